// Area (box) resampling of 8-bit planes with exact integer weights, and the tensor writer.
// Pure pixel arithmetic, no Node and no libjpeg: shared by the JPEG, raw YUV and RGB paths.
#ifndef JPEG_TENSOR_RESAMPLE_H
#define JPEG_TENSOR_RESAMPLE_H
#include <stddef.h>
#include <stdint.h>

enum { MODE_FILL = 0, MODE_COVER = 1, MODE_CONTAIN = 2 };

typedef struct {
  double x, y, w, h;
} Rect;

// What the model wants: size, fit, region of interest and the tensor's normalisation.
typedef struct {
  int out_w, out_h;
  int mode;
  int has_roi;
  Rect roi;  // in source pixels
  int nhwc;
  int bgr;
  double a[3], b[3];  // tensor = pixel * a[c] + b[c]
  // YUV -> RGB (raw frames): y' = (Y - y_offset) * y_scale; R = y' + rv V', G = y' + gu U' + gv V', B = y' + bu U'
  double y_offset, y_scale, rv, gu, gv, bu;
} Params;

// Where the source's pixels land in the output: `src` (source pixels) fills `dst` (output pixels,
// integers); the rest of the output is black (contain).
typedef struct {
  Rect src;
  int dx, dy, dw, dh;
} Placement;

// Validates the ROI against a w x h frame and computes the placement; 0 or -1 with `err` set.
int place(const Params *p, int w, int h, Placement *out, char *err, size_t errlen);

// A plane of `channels` interleaved 8-bit samples.
typedef struct {
  const uint8_t *data;
  int width, height;
  size_t stride;  // bytes per row
  int channels;
} Plane;

// Resamples `src_rect` (plane pixels) of `plane` to dw x dh by area averaging; writes
// dw*dh*channels bytes to `out` (rounded). 0, or -1 when out of memory.
int box_resample(const Plane *plane, Rect src_rect, int dw, int dh, uint8_t *out);

// Writes the interleaved RGB (out_w x out_h, the dst rect from `rgb_dst` of dw x dh, black around
// it) and the float tensor as the params say. `rgb_out` and `tensor` have out_w*out_h*3 elements.
void write_outputs(const Params *p, const Placement *pl, const uint8_t *rgb_dst, uint8_t *rgb_out,
                   float *tensor);

// Converts resampled Y and U, V (every `cstep`-th byte from `u` and `v`: 1 for I420's planes, 2
// for NV12's interleaved pairs) to interleaved RGB (pixels*3), rounded and clamped.
void yuv_to_rgb(const Params *p, const uint8_t *y, const uint8_t *u, const uint8_t *v, int cstep,
                int pixels, uint8_t *rgb);

// Per-thread reusable buffers, by slot.
enum { SCRATCH_ROWS, SCRATCH_ACC, SCRATCH_DECODE, SCRATCH_DST, SCRATCH_Y, SCRATCH_C, SCRATCH_LUMA, SCRATCH_SLOTS };
void *scratch(int slot, size_t size);

#endif
