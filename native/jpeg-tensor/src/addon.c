// Node-API addon: frame (JPEG, raw YUV 4:2:0 or RGB) -> model tensor + small RGB in one pass.
// JPEGs are decoded by libjpeg-turbo straight to the smallest DCT scale at or above the model's
// input, then area-resampled (resample.c). Each call runs either synchronously (inside a worker)
// or as async work on libuv's thread pool, so the event loop never waits on pixels.
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "features.h"
#include "resample.h"

// Larger frames are refused before any allocation: a corrupt header must not make us allocate
// gigabytes. 16384 is well above any camera linesight supports.
#define MAX_SIDE 16384
#define N_PARAMS 22

enum { KIND_JPEG, KIND_I420, KIND_NV12, KIND_RGB, KIND_DECODE_ONLY };

typedef struct {
  int kind;
  const uint8_t *in;
  size_t in_len;
  int w, h;  // raw and RGB frames: their size
  Params p;
  float *tensor;
  uint8_t *rgb;
  double *features;  // optional: the drift features of `rgb`
  int src_w, src_h;
  int scale_num, scale_denom;
  int corrupt;
  char err[256];
  napi_ref refs[4];
  napi_deferred deferred;
  napi_async_work work;
} Job;

// One decompressor per thread (libuv pool threads and workers), created on first use.
static _Thread_local tjhandle tls_tj;

static int fail(Job *j, const char *msg) {
  j->corrupt = 1;
  snprintf(j->err, sizeof j->err, "%s", msg);
  return -1;
}

static tjhandle decompressor(void) {
  if (!tls_tj) tls_tj = tjInitDecompress();
  return tls_tj;
}

// After an error TurboJPEG 2.1 can leave the decompressor mid-stream (tjDecompressHeader3 does
// not abort it), and the next frame would fail with a stale error: start afresh.
static int tj_fail(Job *j, tjhandle tj, const char *what) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s: %s", what, tjGetErrorStr2(tj));
  tjDestroy(tj);
  tls_tj = NULL;
  return fail(j, msg);
}

// The smallest scale s <= 1 at which `src` is still at least dw x dh (DCT scaling: 1/8 .. 8/8).
static tjscalingfactor pick_scale(const Rect *src, int dw, int dh) {
  int n = 0;
  tjscalingfactor *f = tjGetScalingFactors(&n);
  tjscalingfactor best = {1, 1};
  for (int i = 0; f && i < n; i++) {
    if (f[i].num > f[i].denom) continue;
    double s = (double)f[i].num / f[i].denom;
    if (src->w * s >= dw && src->h * s >= dh && s < (double)best.num / best.denom) best = f[i];
  }
  return best;
}

static int finish(Job *j, const Placement *pl, const Plane *plane, Rect r) {
  uint8_t *dst = scratch(SCRATCH_DST, (size_t)pl->dw * pl->dh * 3);
  if (!dst || box_resample(plane, r, pl->dw, pl->dh, dst)) return fail(j, "out of memory");
  write_outputs(&j->p, pl, dst, j->rgb, j->tensor);
  return 0;
}

static int run_jpeg(Job *j) {
  tjhandle tj = decompressor();
  if (!tj) return fail(j, "cannot create a JPEG decompressor");
  int w, h, subsamp, cs;
  if (j->in_len == 0 || j->in_len > 0xffffffffu) return fail(j, "not a JPEG: empty or over 4 GB");
  if (tjDecompressHeader3(tj, j->in, (unsigned long)j->in_len, &w, &h, &subsamp, &cs))
    return tj_fail(j, tj, "cannot decode JPEG");
  j->src_w = w;
  j->src_h = h;
  if (cs == TJCS_CMYK || cs == TJCS_YCCK) return fail(j, "CMYK JPEG: cameras send RGB or greyscale");
  if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE) {
    char msg[120];
    snprintf(msg, sizeof msg, "JPEG of %dx%d: sides must be 1..%d", w, h, MAX_SIDE);
    return fail(j, msg);
  }
  Placement pl;
  char msg[200];
  if (place(&j->p, w, h, &pl, msg, sizeof msg)) return fail(j, msg);
  tjscalingfactor sf = j->kind == KIND_DECODE_ONLY ? pick_scale(&(Rect){0, 0, w, h}, j->p.out_w, j->p.out_h)
                                                   : pick_scale(&pl.src, pl.dw, pl.dh);
  j->scale_num = sf.num;
  j->scale_denom = sf.denom;
  int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
  uint8_t *buf = scratch(SCRATCH_DECODE, (size_t)sw * sh * 3);
  if (!buf) return fail(j, "out of memory");
  // Warnings (a truncated stream, bad Huffman data) are errors: a half-grey frame must not be
  // judged. LIMITSCANS bounds the work a hostile progressive JPEG can ask for.
  if (tjDecompress2(tj, j->in, (unsigned long)j->in_len, buf, sw, sw * 3, sh, TJPF_RGB,
                    TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS))
    return tj_fail(j, tj, "cannot decode JPEG");
  if (j->kind == KIND_DECODE_ONLY) return 0;
  double fx = (double)sw / w, fy = (double)sh / h;
  Rect r = {pl.src.x * fx, pl.src.y * fy, pl.src.w * fx, pl.src.h * fy};
  Plane plane = {buf, sw, sh, (size_t)sw * 3, 3};
  return finish(j, &pl, &plane, r);
}

static int run_yuv(Job *j) {
  const int w = j->w, h = j->h;
  const size_t cw = (size_t)(w + 1) / 2, ch = (size_t)(h + 1) / 2;
  const size_t luma = (size_t)w * h;
  const size_t expected = luma + 2 * cw * ch;
  char msg[200];
  j->src_w = w;
  j->src_h = h;
  if (j->in_len != expected) {
    snprintf(msg, sizeof msg, "raw frame of %zu bytes, expected %zu for %dx%d %s", j->in_len, expected, w, h,
             j->kind == KIND_NV12 ? "NV12" : "I420");
    return fail(j, msg);
  }
  Placement pl;
  if (place(&j->p, w, h, &pl, msg, sizeof msg)) return fail(j, msg);
  const size_t px = (size_t)pl.dw * pl.dh;
  uint8_t *yb = scratch(SCRATCH_Y, px), *cb = scratch(SCRATCH_C, px * 2), *dst = scratch(SCRATCH_DST, px * 3);
  int rc = -1;
  if (!yb || !cb || !dst) {
    fail(j, "out of memory");
    goto done;
  }
  Plane yp = {j->in, w, h, (size_t)w, 1};
  // A chroma sample covers a 2x2 block of luma: the region in chroma samples is half the size.
  Rect cr = {pl.src.x / 2, pl.src.y / 2, pl.src.w / 2, pl.src.h / 2};
  if (box_resample(&yp, pl.src, pl.dw, pl.dh, yb)) {
    fail(j, "out of memory");
    goto done;
  }
  const uint8_t *u, *v;
  int cstep;
  if (j->kind == KIND_NV12) {
    Plane uv = {j->in + luma, (int)cw, (int)ch, cw * 2, 2};
    if (box_resample(&uv, cr, pl.dw, pl.dh, cb)) {
      fail(j, "out of memory");
      goto done;
    }
    u = cb;
    v = cb + 1;
    cstep = 2;
  } else {
    Plane up = {j->in + luma, (int)cw, (int)ch, cw, 1};
    Plane vp = {j->in + luma + cw * ch, (int)cw, (int)ch, cw, 1};
    if (box_resample(&up, cr, pl.dw, pl.dh, cb) || box_resample(&vp, cr, pl.dw, pl.dh, cb + px)) {
      fail(j, "out of memory");
      goto done;
    }
    u = cb;
    v = cb + px;
    cstep = 1;
  }
  yuv_to_rgb(&j->p, yb, u, v, cstep, (int)px, dst);
  write_outputs(&j->p, &pl, dst, j->rgb, j->tensor);
  rc = 0;
done:
  return rc;
}

static int run_rgb(Job *j) {
  char msg[200];
  j->src_w = j->w;
  j->src_h = j->h;
  if (j->in_len != (size_t)j->w * j->h * 3) {
    snprintf(msg, sizeof msg, "RGB frame of %zu bytes, expected %zu for %dx%d", j->in_len,
             (size_t)j->w * j->h * 3, j->w, j->h);
    return fail(j, msg);
  }
  Placement pl;
  if (place(&j->p, j->w, j->h, &pl, msg, sizeof msg)) return fail(j, msg);
  Plane plane = {j->in, j->w, j->h, (size_t)j->w * 3, 3};
  return finish(j, &pl, &plane, pl.src);
}

static void run_job(Job *j) {
  int rc;
  switch (j->kind) {
    case KIND_JPEG:
    case KIND_DECODE_ONLY:
      rc = run_jpeg(j);
      break;
    case KIND_I420:
    case KIND_NV12:
      rc = run_yuv(j);
      break;
    default:
      rc = run_rgb(j);
  }
  if (rc || !j->features) return;
  // From the pixels just written, while they are in cache: no second pass in JavaScript.
  uint8_t *luma = scratch(SCRATCH_LUMA, (size_t)j->p.out_w * j->p.out_h);
  if (!luma) {
    fail(j, "out of memory");
    return;
  }
  frame_features(j->rgb, j->p.out_w, j->p.out_h, luma, j->features);
}

// ---- Node-API glue ----

#define CHECK(call)                                          \
  do {                                                       \
    if ((call) != napi_ok) {                                 \
      napi_throw_error(env, NULL, "jpeg-tensor: " #call);    \
      return NULL;                                           \
    }                                                        \
  } while (0)

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

// Byte view of a Buffer / TypedArray argument.
static int bytes_of(napi_env env, napi_value v, void **data, size_t *len, napi_typedarray_type want) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return -1;
  napi_typedarray_type type;
  size_t length;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return -1;
  if (type != want) return -1;
  *len = length;
  return 0;
}

static int read_params(napi_env env, napi_value v, Params *p) {
  void *d;
  size_t n;
  if (bytes_of(env, v, &d, &n, napi_float64_array) || n != N_PARAMS) return -1;
  const double *a = d;
  p->out_w = (int)a[0];
  p->out_h = (int)a[1];
  p->mode = (int)a[2];
  p->has_roi = a[3] != 0;
  p->roi = (Rect){a[4], a[5], a[6], a[7]};
  p->nhwc = a[8] != 0;
  p->bgr = a[9] != 0;
  for (int c = 0; c < 3; c++) {
    p->a[c] = a[10 + c];
    p->b[c] = a[13 + c];
  }
  p->y_offset = a[16];
  p->y_scale = a[17];
  p->rv = a[18];
  p->gu = a[19];
  p->gv = a[20];
  p->bu = a[21];
  if (p->out_w < 1 || p->out_h < 1 || p->out_w > 8192 || p->out_h > 8192 || p->mode < 0 || p->mode > 2) return -1;
  return 0;
}

// args: kind-specific prefix, then params, tensor, rgb and optionally features (Float64Array(6)).
// Returns 0 or throws (and returns -1).
static int parse_job(napi_env env, napi_callback_info info, int kind, Job *j, napi_value *keep) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  memset(j, 0, sizeof *j);
  j->kind = kind;
  int raw = kind == KIND_I420 || kind == KIND_NV12 || kind == KIND_RGB;
  size_t need = raw ? 6 : 4;
  if (kind == KIND_DECODE_ONLY) need = 3;
  if (argc < need) {
    throw_type(env, "jpeg-tensor: too few arguments");
    return -1;
  }
  void *d;
  if (bytes_of(env, argv[0], &d, &j->in_len, napi_uint8_array)) {
    throw_type(env, "jpeg-tensor: the frame must be a Buffer or Uint8Array");
    return -1;
  }
  j->in = d;
  keep[0] = argv[0];
  size_t k = 1;
  if (kind == KIND_DECODE_ONLY) {
    int32_t ow, oh;
    if (napi_get_value_int32(env, argv[1], &ow) || napi_get_value_int32(env, argv[2], &oh) || ow < 1 || oh < 1) {
      throw_type(env, "jpeg-tensor: decodeScaled(jpeg, width, height)");
      return -1;
    }
    j->p.out_w = ow;
    j->p.out_h = oh;
    return 0;
  }
  if (raw) {
    int32_t w, h;
    if (napi_get_value_int32(env, argv[1], &w) || napi_get_value_int32(env, argv[2], &h) || w < 1 || h < 1 ||
        w > MAX_SIDE || h > MAX_SIDE) {
      throw_type(env, "jpeg-tensor: width and height must be integers 1..16384");
      return -1;
    }
    j->w = w;
    j->h = h;
    k = 3;
  }
  if (read_params(env, argv[k], &j->p)) {
    throw_type(env, "jpeg-tensor: params must be a valid Float64Array(22)");
    return -1;
  }
  size_t tlen, rlen;
  size_t want = (size_t)j->p.out_w * j->p.out_h * 3;
  if (bytes_of(env, argv[k + 1], &d, &tlen, napi_float32_array) || tlen != want) {
    throw_type(env, "jpeg-tensor: tensor must be a Float32Array of width*height*3");
    return -1;
  }
  j->tensor = d;
  if (bytes_of(env, argv[k + 2], &d, &rlen, napi_uint8_array) || rlen != want) {
    throw_type(env, "jpeg-tensor: rgb must be a Uint8Array of width*height*3");
    return -1;
  }
  j->rgb = d;
  keep[1] = argv[k + 1];
  keep[2] = argv[k + 2];
  napi_valuetype type = napi_undefined;
  if (argc > k + 3 && napi_typeof(env, argv[k + 3], &type) == napi_ok && type != napi_undefined) {
    size_t flen;
    if (bytes_of(env, argv[k + 3], &d, &flen, napi_float64_array) || flen != FEATURE_COUNT) {
      throw_type(env, "jpeg-tensor: features must be a Float64Array(6)");
      return -1;
    }
    j->features = d;
    keep[3] = argv[k + 3];
  }
  return 0;
}

static napi_value corrupt_error(napi_env env, const Job *j) {
  napi_value msg, code, err;
  napi_create_string_utf8(env, j->err, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, "ECORRUPTFRAME", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &err);
  return err;
}

static napi_value result_of(napi_env env, const Job *j) {
  napi_value arr, v;
  napi_create_array_with_length(env, 4, &arr);
  int vals[4] = {j->src_w, j->src_h, j->scale_num, j->scale_denom};
  for (uint32_t i = 0; i < 4; i++) {
    napi_create_int32(env, vals[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

static napi_value run_sync(napi_env env, napi_callback_info info, int kind) {
  Job j;
  napi_value keep[4] = {0};
  if (parse_job(env, info, kind, &j, keep)) return NULL;
  run_job(&j);
  if (j.corrupt) {
    napi_throw(env, corrupt_error(env, &j));
    return NULL;
  }
  return result_of(env, &j);
}

static void execute(napi_env env, void *data) {
  (void)env;
  run_job(data);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *j = data;
  if (status != napi_ok) {
    fail(j, "cancelled");
  }
  if (j->corrupt) {
    napi_reject_deferred(env, j->deferred, corrupt_error(env, j));
  } else {
    napi_resolve_deferred(env, j->deferred, result_of(env, j));
  }
  for (int i = 0; i < 4; i++)
    if (j->refs[i]) napi_delete_reference(env, j->refs[i]);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value run_async(napi_env env, napi_callback_info info, int kind) {
  Job *j = malloc(sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "jpeg-tensor: out of memory");
    return NULL;
  }
  napi_value keep[4] = {0};
  if (parse_job(env, info, kind, j, keep)) {
    free(j);
    return NULL;
  }
  // The buffers stay alive (referenced) until the work completes.
  for (int i = 0; i < 4; i++)
    if (keep[i]) CHECK(napi_create_reference(env, keep[i], 1, &j->refs[i]));
  napi_value promise, name;
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "jpeg-tensor", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, execute, complete, j, &j->work));
  CHECK(napi_queue_async_work(env, j->work));
  return promise;
}

#define ENTRY(fn, kind, mode) \
  static napi_value fn(napi_env env, napi_callback_info info) { return run_##mode(env, info, kind); }
ENTRY(jpeg_async, KIND_JPEG, async)
ENTRY(jpeg_sync, KIND_JPEG, sync)
ENTRY(i420_async, KIND_I420, async)
ENTRY(i420_sync, KIND_I420, sync)
ENTRY(nv12_async, KIND_NV12, async)
ENTRY(nv12_sync, KIND_NV12, sync)
ENTRY(rgb_async, KIND_RGB, async)
ENTRY(rgb_sync, KIND_RGB, sync)
ENTRY(decode_scaled, KIND_DECODE_ONLY, sync)

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"jpeg", NULL, jpeg_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"jpegSync", NULL, jpeg_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"i420", NULL, i420_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"i420Sync", NULL, i420_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nv12", NULL, nv12_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nv12Sync", NULL, nv12_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rgb", NULL, rgb_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rgbSync", NULL, rgb_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"decodeScaled", NULL, decode_scaled, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
