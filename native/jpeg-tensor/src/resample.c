// Area resampling with integer weights: every output pixel is the coverage-weighted mean of the
// source pixels under it. Integer arithmetic so the result is the same bytes on every CPU
// (training packs frames on a PC, the device serves on arm64).
#include "resample.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WBITS 14
#define WONE (1u << WBITS)

int place(const Params *p, int w, int h, Placement *out, char *err, size_t errlen) {
  Rect r = {0, 0, w, h};
  if (p->has_roi) {
    r = p->roi;
    if (r.x < 0 || r.y < 0 || r.w < 1 || r.h < 1 || r.x + r.w > w || r.y + r.h > h) {
      snprintf(err, errlen, "ROI %gx%g+%g+%g lies outside the %dx%d frame", r.w, r.h, r.x, r.y, w, h);
      return -1;
    }
  }
  out->src = r;
  out->dx = 0;
  out->dy = 0;
  out->dw = p->out_w;
  out->dh = p->out_h;
  double want = (double)p->out_w / p->out_h;
  double have = r.w / r.h;
  if (p->mode == MODE_COVER) {
    // Crop the region's centre to the output's aspect ratio, then fill.
    if (have > want) {
      double cw = r.h * want;
      out->src.x += (r.w - cw) / 2;
      out->src.w = cw;
    } else {
      double ch = r.w / want;
      out->src.y += (r.h - ch) / 2;
      out->src.h = ch;
    }
  } else if (p->mode == MODE_CONTAIN) {
    // Letterbox: the whole region at its aspect ratio, centred, black around it.
    double s = fmin(p->out_w / r.w, p->out_h / r.h);
    int dw = (int)lround(r.w * s), dh = (int)lround(r.h * s);
    out->dw = dw < 1 ? 1 : dw > p->out_w ? p->out_w : dw;
    out->dh = dh < 1 ? 1 : dh > p->out_h ? p->out_h : dh;
    out->dx = (p->out_w - out->dw) / 2;
    out->dy = (p->out_h - out->dh) / 2;
  }
  return 0;
}

// For each output index: the first source index, how many, and their weights (sum = WONE).
typedef struct {
  int *start;
  int *count;
  uint32_t *w;
  int maxn;
} Axis;

static void axis_free(Axis *a) {
  free(a->start);
  free(a->count);
  free(a->w);
}

static int axis_build(Axis *ax, double s0, double len, int n, int limit) {
  double step = len / n;
  ax->maxn = (int)ceil(step) + 2;
  ax->start = malloc(sizeof(int) * n);
  ax->count = malloc(sizeof(int) * n);
  ax->w = malloc(sizeof(uint32_t) * (size_t)n * ax->maxn);
  if (!ax->start || !ax->count || !ax->w) return -1;
  for (int i = 0; i < n; i++) {
    double a = s0 + i * step, b = a + step;
    if (a < 0) a = 0;
    if (b > limit) b = limit;
    if (b <= a) {  // rounding at the edge: take the nearest pixel
      a = fmin(fmax(a, 0), limit - 1);
      b = a + 1e-9;
    }
    int j0 = (int)floor(a);
    int j1 = (int)ceil(b) - 1;
    if (j1 < j0) j1 = j0;
    if (j1 >= limit) j1 = limit - 1;
    int cnt = j1 - j0 + 1;
    if (cnt > ax->maxn) cnt = ax->maxn;
    uint32_t *w = ax->w + (size_t)i * ax->maxn;
    double total = b - a;
    uint32_t sum = 0;
    int big = 0;
    for (int k = 0; k < cnt; k++) {
      int j = j0 + k;
      double ov = fmin(b, j + 1.0) - fmax(a, (double)j);
      if (ov < 0) ov = 0;
      w[k] = (uint32_t)lround(ov / total * WONE);
      sum += w[k];
      if (w[k] > w[big]) big = k;
    }
    // Exact unit sum: a flat image stays flat.
    w[big] = w[big] + WONE - sum;
    ax->start[i] = j0;
    ax->count[i] = cnt;
  }
  return 0;
}

// Grow-only scratch memory per thread: no malloc/mmap and page faults on every frame.
typedef struct {
  void *p;
  size_t cap;
} Scratch;

void *scratch(int slot, size_t size) {
  static _Thread_local Scratch s[SCRATCH_SLOTS];
  if (s[slot].cap < size) {
    void *p = realloc(s[slot].p, size);
    if (!p) return NULL;
    s[slot].p = p;
    s[slot].cap = size;
  }
  return s[slot].p;
}

static int axis_identity(const Axis *a, int n) {
  for (int i = 0; i < n; i++)
    if (a->count[i] != 1 || a->w[(size_t)i * a->maxn] != WONE || (i > 0 && a->start[i] != a->start[i - 1] + 1))
      return 0;
  return 1;
}

// Horizontal pass of one row with a constant channel count (so the compiler unrolls it); keeps
// HBITS fractional bits so the vertical pass fits in 32 bits.
#define HBITS 7
static inline void hpass(const uint8_t *src, const Axis *ax, int dw, int ch, uint32_t *dst) {
  for (int x = 0; x < dw; x++) {
    const uint32_t *w = ax->w + (size_t)x * ax->maxn;
    const uint8_t *s = src + (size_t)ax->start[x] * ch;
    const int n = ax->count[x];
    for (int c = 0; c < ch; c++) {
      uint32_t acc = 0;
      for (int k = 0; k < n; k++) acc += s[k * ch + c] * w[k];
      dst[x * ch + c] = (acc + (1u << (WBITS - HBITS - 1))) >> (WBITS - HBITS);
    }
  }
}

int box_resample(const Plane *pl, Rect r, int dw, int dh, uint8_t *out) {
  const int ch = pl->channels;
  Axis ax = {0}, ay = {0};
  int rc = -1;
  if (axis_build(&ax, r.x, r.w, dw, pl->width) || axis_build(&ay, r.y, r.h, dh, pl->height)) goto done;
  const size_t row_len = (size_t)dw * ch;
  if (axis_identity(&ax, dw) && axis_identity(&ay, dh)) {
    // The decode already landed on the input size: a crop.
    for (int y = 0; y < dh; y++)
      memcpy(out + y * row_len, pl->data + (size_t)(ay.start[y]) * pl->stride + (size_t)ax.start[0] * ch, row_len);
    rc = 0;
    goto done;
  }
  const int y_first = ay.start[0];
  const int rows = ay.start[dh - 1] + ay.count[dh - 1] - y_first;
  uint32_t *tmp = scratch(SCRATCH_ROWS, sizeof(uint32_t) * row_len * rows);
  uint32_t *acc = scratch(SCRATCH_ACC, sizeof(uint32_t) * row_len);
  if (!tmp || !acc) goto done;
  for (int yy = 0; yy < rows; yy++) {
    const uint8_t *src = pl->data + (size_t)(y_first + yy) * pl->stride;
    uint32_t *dst = tmp + (size_t)yy * row_len;
    if (ch == 3)
      hpass(src, &ax, dw, 3, dst);
    else if (ch == 1)
      hpass(src, &ax, dw, 1, dst);
    else
      hpass(src, &ax, dw, ch, dst);
  }
  // Vertical: weighted sum of rows (row-major so it vectorizes), then back to 8 bits. At most
  // 255 << HBITS times a unit sum of weights: fits in 32 bits.
  for (int y = 0; y < dh; y++) {
    const uint32_t *w = ay.w + (size_t)y * ay.maxn;
    const uint32_t *base = tmp + (size_t)(ay.start[y] - y_first) * row_len;
    memset(acc, 0, sizeof(uint32_t) * row_len);
    for (int k = 0; k < ay.count[y]; k++) {
      const uint32_t *row = base + k * row_len;
      const uint32_t wk = w[k];
      for (size_t i = 0; i < row_len; i++) acc[i] += row[i] * wk;
    }
    uint8_t *o = out + (size_t)y * row_len;
    for (size_t i = 0; i < row_len; i++) {
      uint32_t v = (acc[i] + (1u << (WBITS + HBITS - 1))) >> (WBITS + HBITS);
      o[i] = (uint8_t)(v > 255 ? 255 : v);
    }
  }
  rc = 0;
done:
  axis_free(&ax);
  axis_free(&ay);
  return rc;
}

void write_outputs(const Params *p, const Placement *pl, const uint8_t *rgb_dst, uint8_t *rgb_out,
                   float *tensor) {
  const int W = p->out_w, H = p->out_h;
  const size_t plane = (size_t)W * H;
  if (pl->dw != W || pl->dh != H) memset(rgb_out, 0, plane * 3);
  for (int y = 0; y < pl->dh; y++) {
    memcpy(rgb_out + ((size_t)(pl->dy + y) * W + pl->dx) * 3, rgb_dst + (size_t)y * pl->dw * 3,
           (size_t)pl->dw * 3);
  }
  // Same arithmetic as toTensor() in src/model/tensor.ts (double multiply-add, then float), once
  // per value in a table.
  float lut[3][256];
  for (int c = 0; c < 3; c++)
    for (int v = 0; v < 256; v++) lut[c][v] = (float)(v * p->a[c] + p->b[c]);
  for (int c = 0; c < 3; c++) {
    const int src = p->bgr ? 2 - c : c;
    const float *l = lut[c];
    if (!p->nhwc) {
      float *t = tensor + (size_t)c * plane;
      for (size_t i = 0; i < plane; i++) t[i] = l[rgb_out[i * 3 + src]];
    } else {
      for (size_t i = 0; i < plane; i++) tensor[i * 3 + c] = l[rgb_out[i * 3 + src]];
    }
  }
}

static uint8_t clamp8(double v) {
  long r = lround(v);
  return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

void yuv_to_rgb(const Params *p, const uint8_t *y, const uint8_t *u, const uint8_t *v, int cstep,
                int pixels, uint8_t *rgb) {
  for (int i = 0; i < pixels; i++) {
    double yy = (y[i] - p->y_offset) * p->y_scale;
    double uu = u[(size_t)i * cstep] - 128.0;
    double vv = v[(size_t)i * cstep] - 128.0;
    rgb[i * 3] = clamp8(yy + p->rv * vv);
    rgb[i * 3 + 1] = clamp8(yy + p->gu * uu + p->gv * vv);
    rgb[i * 3 + 2] = clamp8(yy + p->bu * uu);
  }
}
