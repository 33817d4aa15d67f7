/* protocol.h - the messages between the master (rank 0) and the workers.
 *
 *   worker -> master  TAG_READY   (empty)                     first message: "give me work"
 *   master -> worker  TAG_TASK    int32 task index, -1 = stop
 *   worker -> master  TAG_RESULT  result_head, then payload chunks (TAG_PAYLOAD) if head.payload_bytes > 0
 *
 * Every rank expands the same job into the same task list, so a task travels as its index.
 * The payload packs a task_scores: nsamples x (label u8, object score f64, npoints i64, name and
 * defect as NUL-terminated strings), then point scores (f32) and point labels (u8). It is sent in
 * chunks of at most PAYLOAD_CHUNK bytes so a task of any size fits MPI's int counts.
 */
#ifndef AD3D_RUNNER_PROTOCOL_H
#define AD3D_RUNNER_PROTOCOL_H

#include <stdint.h>

#include "store/results.h"

enum { TAG_READY = 1, TAG_TASK = 2, TAG_RESULT = 3, TAG_PAYLOAD = 4 };

#define PAYLOAD_CHUNK ((int64_t)1 << 30)

typedef struct {
  int32_t task;          /* index in the task list */
  int32_t pad;
  task_record rec;
  int64_t payload_bytes; /* 0 for a failed task */
} result_head;

#endif
