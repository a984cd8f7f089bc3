// Per-frame image statistics for drift and out-of-distribution checks, from the RGB the model saw.
// The same integer arithmetic as src/monitor/frame-features.ts (the sharp path's): the two agree
// bit for bit, so a reference profiled on either path fits frames served by the other.
#ifndef JPEG_TENSOR_FEATURES_H
#define JPEG_TENSOR_FEATURES_H
#include <stdint.h>

enum { FEATURE_COUNT = 6 };

// out: brightness, contrast, sharpness, red, green, blue (see frame-features.ts). `luma` is
// scratch of w*h bytes.
void frame_features(const uint8_t *rgb, int w, int h, uint8_t *luma, double out[FEATURE_COUNT]);

#endif
