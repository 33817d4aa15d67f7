/* lzf.h - the LZF compression format (liblzf, as PCL uses it inside DATA binary_compressed PCDs).
 *
 * A stream is a sequence of chunks, each opened by a control byte c:
 *   c < 32   a literal run: the next c + 1 bytes are copied to the output as they are.
 *   c >= 32  a back-reference: len = c >> 5 (7 means one more length byte follows and is added),
 *            then one offset byte o; the len + 2 bytes starting ((c & 31) << 8) + o + 1 bytes before
 *            the current end of the output are copied forward, byte by byte (they may overlap it).
 * So a reference reaches at most 8192 bytes back and copies 3 to 264 bytes.
 *
 * This is private to the io layer (pcd.c). Both functions check every read and write against the
 * buffer bounds and never touch memory outside them; on a bad stream they set a message (without a
 * file name: the caller adds it with ad3d_fail_context) and return AD3D_EFORMAT.
 */
#ifndef AD3D_IO_LZF_H
#define AD3D_IO_LZF_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

/* Decompress in (in_len bytes) into out (out_cap bytes). *out_len gets the number of bytes produced.
 * AD3D_EFORMAT if the stream ends inside a chunk, refers before the start of the output or would
 * write more than out_cap bytes. */
ad3d_status lzf_decompress(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len);

/* Worst-case compressed size of n input bytes (all literals: one control byte per 32 bytes). */
size_t lzf_compress_bound(size_t n);

/* Compress in (in_len bytes) into out (out_cap bytes, at least lzf_compress_bound(in_len) to be
 * sure it fits). *out_len gets the compressed size. AD3D_EINVAL if out_cap is too small,
 * AD3D_ENOMEM if the hash table cannot be allocated. */
ad3d_status lzf_compress(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len);

#endif
