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
 * How surprising k events in n trials are when the expected rate is p, as the z value of a
 * normal test with the same exact binomial tail probability. The plain normal approximation is
 * badly optimistic for rare events (25 expected rejects: 36 is "z 2.2" but 2% likely), which made
 * rate alarms fire on noise. Positive = more events than expected.
 */
export function binomialZ(k: number, n: number, p: number): number {
  if (n === 0) return 0;
  const pp = Math.min(Math.max(p, 1e-9), 1 - 1e-9);
  const mean = n * pp;
  if (k === mean) return 0;
  const upper = k > mean;
  // Sum the tail from k outwards (pmf is monotone there) until the terms stop mattering.
  const first = logBinomPmf(k, n, pp);
  let tail = 0;
  for (let i = k; upper ? i <= n : i >= 0; i += upper ? 1 : -1) {
    const term = Math.exp(logBinomPmf(i, n, pp) - first);
    tail += term;
    if (term < 1e-12 * tail) break;
  }
  const logTail = first + Math.log(tail);
  const z = -normalQuantile(Math.exp(Math.max(logTail, -690)));
  return Math.max(0, upper ? z : -z) * (upper ? 1 : -1);
}
