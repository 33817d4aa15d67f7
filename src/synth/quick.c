/* synth/quick.c: being written */
