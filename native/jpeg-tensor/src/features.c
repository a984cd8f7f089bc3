#include "features.h"

#include <math.h>

void frame_features(const uint8_t *rgb, int w, int h, uint8_t *luma, double out[FEATURE_COUNT]) {
  const int64_t n = (int64_t)w * h;
  int64_t hist[256] = {0};
  int64_t r = 0, g = 0, b = 0;
  for (int64_t i = 0, j = 0; i < n; i++, j += 3) {
    const int R = rgb[j], G = rgb[j + 1], B = rgb[j + 2];
    r += R;
    g += G;
    b += B;
    const int y = (77 * R + 150 * G + 29 * B + 128) >> 8;
    luma[i] = (uint8_t)y;
    hist[y]++;
  }
  int64_t sum = 0, sum_sq = 0;
  for (int v = 0; v < 256; v++) {
    sum += hist[v] * v;
    sum_sq += hist[v] * v * v;
  }
  // Laplacian at every other pixel of every other row, staggered row to row (as in JS).
  int64_t lap_sum = 0, lap_sq = 0, m = 0;
  for (int y = 1; y < h - 1; y += 2) {
    const int64_t end = (int64_t)y * w + w - 1;
    for (int64_t i = (int64_t)y * w + 1 + ((y >> 1) & 1); i < end; i += 2) {
      const int64_t lap = (int64_t)luma[i - 1] + luma[i + 1] + luma[i - w] + luma[i + w] - 4 * (int64_t)luma[i];
      lap_sum += lap;
      lap_sq += lap * lap;
      m++;
    }
  }
  const double dn = (double)n;
  const double mean = (double)sum / dn;
  const double lap_mean = m > 0 ? (double)lap_sum / (double)m : 0;
  const double var = (double)sum_sq / dn - mean * mean;
  const double lap_var = m > 0 ? (double)lap_sq / (double)m - lap_mean * lap_mean : 0;
  out[0] = mean;
  out[1] = sqrt(var > 0 ? var : 0);
  out[2] = lap_var > 0 ? lap_var : 0;
  out[3] = (double)r / dn;
  out[4] = (double)g / dn;
  out[5] = (double)b / dn;
}
