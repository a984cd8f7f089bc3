// The Linux GPIO character device (uAPI v2, <linux/gpio.h>) for linesight's GPIO backend
// (src/line/gpio-chardev.ts wraps it). Plain ioctls on /dev/gpiochipN: no libgpiod, so the only
// build dependency is the kernel's uAPI header, the same for amd64 and arm64. Every call is
// synchronous (the output worker thread calls it at the moment a line must change); the module is
// context-aware so it loads in worker threads. Errors carry `code` (ENOENT, EBUSY, EACCES, ...)
// and name the chip; the TypeScript side turns them into what to do.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define NAPI_VERSION 8
#include <node_api.h>

#define CALL(env, call)              \
  do {                               \
    if ((call) != napi_ok) {         \
      return throw_type(env, #call); \
    }                                \
  } while (0)

static napi_value throw_type(napi_env env, const char* what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_type_error(env, NULL, what);
  return NULL;
}

// An Error with .code (errno name) and .errno, message "<what>: <strerror>".
static napi_value throw_errno(napi_env env, int err, const char* what) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char* code = strerrorname_np(err);
  napi_value m, c, e, n;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &e);
  napi_create_int32(env, err, &n);
  napi_set_named_property(env, e, "errno", n);
  napi_throw(env, e);
  return NULL;
}

static bool get_string(napi_env env, napi_value v, char* buf, size_t size) {
  size_t len = 0;
  return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok;
}

// A kernel name field: GPIO_MAX_NAME_SIZE bytes, not always NUL-terminated.
static void set_name(napi_env env, napi_value o, const char* key, const char s[GPIO_MAX_NAME_SIZE]) {
  napi_value v;
  napi_create_string_utf8(env, s, strnlen(s, GPIO_MAX_NAME_SIZE), &v);
  napi_set_named_property(env, o, key, v);
}

static void set_str(napi_env env, napi_value o, const char* key, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, key, v);
}

static void set_u32(napi_env env, napi_value o, const char* key, uint32_t n) {
  napi_value v;
  napi_create_uint32(env, n, &v);
  napi_set_named_property(env, o, key, v);
}

static void set_bool(napi_env env, napi_value o, const char* key, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  napi_set_named_property(env, o, key, v);
}

static int open_chip(const char* path) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

// Opens the chip and reads its info; on failure throws and returns -1.
static int open_chip_info(napi_env env, const char* path, struct gpiochip_info* ci) {
  int fd = open_chip(path);
  if (fd < 0) {
    throw_errno(env, -fd, path);
    return -1;
  }
  memset(ci, 0, sizeof *ci);
  if (ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, ci) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, path);
    return -1;
  }
  return fd;
}

// chipInfo(path) -> { name, label, lines }
static napi_value chip_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char path[256];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_string(env, argv[0], path, sizeof path)) return throw_type(env, "chipInfo(path)");
  struct gpiochip_info ci;
  int fd = open_chip_info(env, path, &ci);
  if (fd < 0) return NULL;
  close(fd);
  napi_value o;
  napi_create_object(env, &o);
  set_name(env, o, "name", ci.name);
  set_name(env, o, "label", ci.label);
  set_u32(env, o, "lines", ci.lines);
  return o;
}

static const char* bias_name(uint64_t f) {
  if (f & GPIO_V2_LINE_FLAG_BIAS_PULL_UP) return "pull_up";
  if (f & GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN) return "pull_down";
  if (f & GPIO_V2_LINE_FLAG_BIAS_DISABLED) return "disabled";
  return "as_is";
}

// lineInfos(path) -> [{ offset, name, consumer, used, output, activeLow, bias, edge, debounceUs }]
static napi_value line_infos(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char path[256];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_string(env, argv[0], path, sizeof path)) return throw_type(env, "lineInfos(path)");
  struct gpiochip_info ci;
  int fd = open_chip_info(env, path, &ci);
  if (fd < 0) return NULL;
  napi_value arr;
  napi_create_array_with_length(env, ci.lines, &arr);
  for (uint32_t i = 0; i < ci.lines; i++) {
    struct gpio_v2_line_info li;
    memset(&li, 0, sizeof li);
    li.offset = i;
    if (ioctl(fd, GPIO_V2_GET_LINEINFO_IOCTL, &li) < 0) {
      int err = errno;
      close(fd);
      char what[300];
      snprintf(what, sizeof what, "%s line %u", path, i);
      return throw_errno(env, err, what);
    }
    napi_value o;
    napi_create_object(env, &o);
    set_u32(env, o, "offset", li.offset);
    set_name(env, o, "name", li.name);
    set_name(env, o, "consumer", li.consumer);
    set_bool(env, o, "used", (li.flags & GPIO_V2_LINE_FLAG_USED) != 0);
    set_bool(env, o, "output", (li.flags & GPIO_V2_LINE_FLAG_OUTPUT) != 0);
    set_bool(env, o, "activeLow", (li.flags & GPIO_V2_LINE_FLAG_ACTIVE_LOW) != 0);
    set_str(env, o, "bias", bias_name(li.flags));
    bool r = (li.flags & GPIO_V2_LINE_FLAG_EDGE_RISING) != 0, f = (li.flags & GPIO_V2_LINE_FLAG_EDGE_FALLING) != 0;
    set_str(env, o, "edge", r && f ? "both" : r ? "rising" : f ? "falling" : "none");
    uint32_t debounce = 0;
    for (uint32_t a = 0; a < li.num_attrs && a < GPIO_V2_LINE_NUM_ATTRS_MAX; a++)
      if (li.attrs[a].id == GPIO_V2_LINE_ATTR_ID_DEBOUNCE) debounce = li.attrs[a].debounce_period_us;
    set_u32(env, o, "debounceUs", debounce);
    napi_set_element(env, arr, i, o);
  }
  close(fd);
  return arr;
}

static bool get_prop(napi_env env, napi_value o, const char* key, napi_value* out) {
  bool has = false;
  if (napi_has_named_property(env, o, key, &has) != napi_ok || !has) return false;
  if (napi_get_named_property(env, o, key, out) != napi_ok) return false;
  napi_valuetype t;
  napi_typeof(env, *out, &t);
  return t != napi_undefined && t != napi_null;
}

static uint64_t parse_flags(napi_env env, napi_value line, bool output) {
  uint64_t flags = output ? GPIO_V2_LINE_FLAG_OUTPUT : GPIO_V2_LINE_FLAG_INPUT;
  napi_value v;
  char s[32] = "";
  if (!output && get_prop(env, line, "edge", &v) && get_string(env, v, s, sizeof s)) {
    if (!strcmp(s, "rising") || !strcmp(s, "both")) flags |= GPIO_V2_LINE_FLAG_EDGE_RISING;
    if (!strcmp(s, "falling") || !strcmp(s, "both")) flags |= GPIO_V2_LINE_FLAG_EDGE_FALLING;
  }
  s[0] = 0;
  if (get_prop(env, line, "bias", &v) && get_string(env, v, s, sizeof s)) {
    if (!strcmp(s, "pull_up")) flags |= GPIO_V2_LINE_FLAG_BIAS_PULL_UP;
    if (!strcmp(s, "pull_down")) flags |= GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN;
    if (!strcmp(s, "disabled")) flags |= GPIO_V2_LINE_FLAG_BIAS_DISABLED;
  }
  // Edge timestamps stay on CLOCK_MONOTONIC (no EVENT_CLOCK_* flag): the line clock.
  return flags;
}

// request(path, consumer, [{ offset, output, value, edge, bias, debounceUs }]) -> fd
// Line i of the request is bit i of setValues/getValues masks.
static napi_value request(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char path[256];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct gpio_v2_line_request req;
  memset(&req, 0, sizeof req);
  uint32_t n = 0;
  if (argc < 3 || !get_string(env, argv[0], path, sizeof path) ||
      !get_string(env, argv[1], req.consumer, sizeof req.consumer) || napi_get_array_length(env, argv[2], &n) != napi_ok)
    return throw_type(env, "request(path, consumer, lines)");
  if (n == 0 || n > GPIO_V2_LINES_MAX) return throw_type(env, "request: 1 to 64 lines");
  uint64_t flags[GPIO_V2_LINES_MAX], values = 0, outputs = 0;
  uint32_t debounce[GPIO_V2_LINES_MAX];
  for (uint32_t i = 0; i < n; i++) {
    napi_value line, v;
    bool output = false, value = false;
    CALL(env, napi_get_element(env, argv[2], i, &line));
    if (!get_prop(env, line, "offset", &v) || napi_get_value_uint32(env, v, &req.offsets[i]) != napi_ok)
      return throw_type(env, "request: each line needs an offset");
    if (get_prop(env, line, "output", &v)) napi_get_value_bool(env, v, &output);
    if (get_prop(env, line, "value", &v)) napi_get_value_bool(env, v, &value);
    debounce[i] = 0;
    if (!output && get_prop(env, line, "debounceUs", &v)) napi_get_value_uint32(env, v, &debounce[i]);
    flags[i] = parse_flags(env, line, output);
    if (output) outputs |= 1ULL << i;
    if (output && value) values |= 1ULL << i;
  }
  // Per-line flags as attributes: one per distinct set of flags, then output values, debounce.
  struct gpio_v2_line_config* cfg = &req.config;
  cfg->flags = flags[0];
  for (uint32_t i = 1; i < n; i++) {
    if (flags[i] == cfg->flags) continue;
    uint32_t a = 0;
    while (a < cfg->num_attrs && cfg->attrs[a].attr.flags != flags[i]) a++;
    if (a == cfg->num_attrs) {
      if (a == GPIO_V2_LINE_NUM_ATTRS_MAX) return throw_type(env, "request: too many different line settings");
      cfg->attrs[a].attr.id = GPIO_V2_LINE_ATTR_ID_FLAGS;
      cfg->attrs[a].attr.flags = flags[i];
      cfg->num_attrs++;
    }
    cfg->attrs[a].mask |= 1ULL << i;
  }
  if (outputs) {
    if (cfg->num_attrs == GPIO_V2_LINE_NUM_ATTRS_MAX) return throw_type(env, "request: too many different line settings");
    struct gpio_v2_line_config_attribute* a = &cfg->attrs[cfg->num_attrs++];
    a->attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
    a->attr.values = values;
    a->mask = outputs;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (!debounce[i]) continue;
    if (cfg->num_attrs == GPIO_V2_LINE_NUM_ATTRS_MAX) return throw_type(env, "request: too many different line settings");
    struct gpio_v2_line_config_attribute* a = &cfg->attrs[cfg->num_attrs++];
    a->attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE;
    a->attr.debounce_period_us = debounce[i];
    a->mask = 1ULL << i;
  }
  req.num_lines = n;
  int fd = open_chip(path);
  if (fd < 0) return throw_errno(env, -fd, path);
  int rc = ioctl(fd, GPIO_V2_GET_LINE_IOCTL, &req);
  int err = errno;
  close(fd);
  if (rc < 0) return throw_errno(env, err, path);
  // Reading events never blocks: wait() polls with a timeout instead.
  int fl = fcntl(req.fd, F_GETFL);
  if (fl < 0 || fcntl(req.fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    err = errno;
    close(req.fd);
    return throw_errno(env, err, "request fd");
  }
  napi_value out;
  napi_create_int32(env, req.fd, &out);
  return out;
}

static bool get_fd(napi_env env, napi_callback_info info, size_t want, napi_value* argv, int* fd) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return false;
  return napi_get_value_int32(env, argv[0], fd) == napi_ok && *fd >= 0;
}

// setValues(fd, mask, bits): sets the lines in mask (bit i = line i of the request) to bits.
static napi_value set_values(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  int64_t mask, bits;
  if (!get_fd(env, info, 3, argv, &fd) || napi_get_value_int64(env, argv[1], &mask) != napi_ok ||
      napi_get_value_int64(env, argv[2], &bits) != napi_ok)
    return throw_type(env, "setValues(fd, mask, bits)");
  struct gpio_v2_line_values lv = {.bits = (uint64_t)bits, .mask = (uint64_t)mask};
  if (ioctl(fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &lv) < 0) return throw_errno(env, errno, "GPIO_V2_LINE_SET_VALUES_IOCTL");
  return NULL;
}

// getValues(fd, mask) -> bits
static napi_value get_values(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  int64_t mask;
  if (!get_fd(env, info, 2, argv, &fd) || napi_get_value_int64(env, argv[1], &mask) != napi_ok)
    return throw_type(env, "getValues(fd, mask)");
  struct gpio_v2_line_values lv = {.bits = 0, .mask = (uint64_t)mask};
  if (ioctl(fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &lv) < 0) return throw_errno(env, errno, "GPIO_V2_LINE_GET_VALUES_IOCTL");
  napi_value out;
  napi_create_int64(env, (int64_t)(lv.bits & (uint64_t)mask), &out);
  return out;
}

// readEvents(fd) -> [{ offset, rising, timestampNs (bigint), seqno, lineSeqno }]; never blocks.
static napi_value read_events(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_fd(env, info, 1, argv, &fd)) return throw_type(env, "readEvents(fd)");
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t count = 0;
  struct gpio_v2_line_event ev[16];
  for (;;) {
    ssize_t got = read(fd, ev, sizeof ev);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return throw_errno(env, errno, "reading GPIO line events");
    }
    size_t k = (size_t)got / sizeof ev[0];
    for (size_t i = 0; i < k; i++) {
      napi_value o, ts;
      napi_create_object(env, &o);
      set_u32(env, o, "offset", ev[i].offset);
      set_bool(env, o, "rising", ev[i].id == GPIO_V2_LINE_EVENT_RISING_EDGE);
      napi_create_bigint_uint64(env, ev[i].timestamp_ns, &ts);
      napi_set_named_property(env, o, "timestampNs", ts);
      set_u32(env, o, "seqno", ev[i].seqno);
      set_u32(env, o, "lineSeqno", ev[i].line_seqno);
      napi_set_element(env, arr, count++, o);
    }
    if (k < 16) break;
  }
  return arr;
}

// poll(fd, timeoutMs) -> true when events are readable; sub-millisecond timeouts (ppoll).
static napi_value poll_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  double ms;
  if (!get_fd(env, info, 2, argv, &fd) || napi_get_value_double(env, argv[1], &ms) != napi_ok)
    return throw_type(env, "poll(fd, timeoutMs)");
  if (ms < 0) ms = 0;
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6)};
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int rc = ppoll(&p, 1, &ts, NULL);
  if (rc < 0 && errno != EINTR) return throw_errno(env, errno, "poll on the GPIO request");
  napi_value out;
  napi_get_boolean(env, rc > 0 && (p.revents & POLLIN), &out);
  return out;
}

// release(fd): gives the lines back to the kernel.
static napi_value release(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_fd(env, info, 1, argv, &fd)) return throw_type(env, "release(fd)");
  if (close(fd) < 0) return throw_errno(env, errno, "closing the GPIO request");
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"chipInfo", NULL, chip_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lineInfos", NULL, line_infos, NULL, NULL, NULL, napi_enumerable, NULL},
      {"request", NULL, request, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setValues", NULL, set_values, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getValues", NULL, get_values, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readEvents", NULL, read_events, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poll", NULL, poll_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"release", NULL, release, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
