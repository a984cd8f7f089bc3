// Distances between a window's bin counts and a reference distribution over the same bins. Pure.

/**
 * Window counts -> probabilities with a half-count (Jeffreys) pseudocount per bin, so an empty
 * bin never yields log(0) and a few hundred frames do not look infinitely far from the reference.
 */
export function smoothedProbs(counts: ArrayLike<number>, n: number): Float64Array {
  const k = counts.length;
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) out[i] = ((counts[i] as number) + 0.5) / (n + 0.5 * k);
  return out;
}

/** Reference probabilities are floored so a bin the reference never saw stays finite. */
const REF_FLOOR = 1e-4;

/**
 * Population stability index: sum (p - q) ln(p / q). The usual reading, with the reference's own
 * bins: < 0.1 no real change, 0.1–0.25 moderate shift, > 0.25 major shift.
 */
export function psi(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const a = Math.max(p[i] as number, REF_FLOOR);
    const b = Math.max(q[i] as number, REF_FLOOR);
    s += (a - b) * Math.log(a / b);
  }
  return s;
}

/** Jensen–Shannon distance (square root of the divergence, log base 2): 0 = same, 1 = disjoint. */
export function jsDistance(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i] as number;
    const b = q[i] as number;
    const m = (a + b) / 2;
    if (a > 0) d += 0.5 * a * Math.log2(a / m);
    if (b > 0) d += 0.5 * b * Math.log2(b / m);
  }
  return Math.sqrt(Math.max(0, Math.min(1, d)));
}

const logFactorials: number[] = [0];
function logFactorial(n: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials.push((logFactorials[i - 1] as number) + Math.log(i));
  return logFactorials[n] as number;
}

function logBinomPmf(k: number, n: number, p: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k) + k * Math.log(p) + (n - k) * Math.log1p(-p);
}

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(q: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const x = Math.min(Math.max(q, 1e-300), 1 - 1e-16);
  const poly = (k: number[], t: number) => k.reduce((acc, v) => acc * t + v, 0);
  if (x < 0.02425) {
    const t = Math.sqrt(-2 * Math.log(x));
    return poly(c, t) / (poly(d, t) * t + 1);
  }
  if (x > 1 - 0.02425) {
    const t = Math.sqrt(-2 * Math.log(1 - x));
    return -poly(c, t) / (poly(d, t) * t + 1);
  }
  const t = x - 0.5;
  const r = t * t;
  return (poly(a, r) * t) / (poly(b, r) * r + 1);
}

/**
 * The z value of a normal test with the same one-sided tail probability as k events in n trials,
 * from k outwards (the pmf is unimodal, so the terms shrink once past the mode). Positive = more
 * events than `mean`, negative = fewer, 0 when k is not in a tail at all.
 */
function tailZ(k: number, n: number, mean: number, logPmf: (i: number) => number): number {
  if (n === 0 || k === mean) return 0;
  const upper = k > mean;
  const first = logPmf(k);
  let tail = 0;
  for (let i = k; upper ? i <= n : i >= 0; i += upper ? 1 : -1) {
    const term = Math.exp(logPmf(i) - first);
    tail += term;
    if (term < 1e-12 * tail) break;
  }
  const logTail = first + Math.log(tail);
  const z = Math.max(0, -normalQuantile(Math.min(1, Math.exp(Math.max(logTail, -690)))));
  if (z === 0) return 0;
  return upper ? z : -z;
}

/**
 * How surprising k events in n trials are when the expected rate is p, as the z value of a
 * normal test with the same exact binomial tail probability. The plain normal approximation is
 * badly optimistic for rare events (25 expected rejects: 36 is "z 2.2" but 2% likely), which made
 * rate alarms fire on noise. Positive = more events than expected, negative = fewer.
 */
export function binomialZ(k: number, n: number, p: number): number {
  const pp = Math.min(Math.max(p, 1e-9), 1 - 1e-9);
  return tailZ(k, n, n * pp, (i) => logBinomPmf(i, n, pp));
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const t = x - 1;
  let a = c[0] as number;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (t + i);
  const u = t + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (t + 0.5) * Math.log(u) - u + Math.log(a);
}

/**
 * What a reference knows about a rate it measured: its mean and how many frames' worth of
 * evidence that rests on, as a Beta(mean·frames, (1 − mean)·frames) belief. `frames` is Infinity
 * when the rate is taken as exact.
 */
export interface RateBelief {
  mean: number;
  frames: number;
}

/**
 * binomialZ when the expected rate is itself an estimate: the tail of the window's count under
 * the reference's posterior predictive (beta-binomial). A rate the reference saw 3 times in 3000
 * frames is known only to about ±55%; the plain binomial takes it as exact and calls an ordinary
 * window of a rare event "z 3".
 */
export function rateZ(k: number, n: number, belief: RateBelief): number {
  const p = Math.min(Math.max(belief.mean, 1e-9), 1 - 1e-9);
  // Past ~1e7 frames of evidence the predictive is the binomial to many digits.
  if (!(belief.frames < 1e7)) return binomialZ(k, n, p);
  const a = p * belief.frames;
  const b = (1 - p) * belief.frames;
  const logBeta = logGamma(a) + logGamma(b) - logGamma(a + b);
  return tailZ(k, n, n * p, (i) => {
    const choose = logFactorial(n) - logFactorial(i) - logFactorial(n - i);
    return choose + logGamma(i + a) + logGamma(n - i + b) - logGamma(n + a + b) - logBeta;
  });
}
