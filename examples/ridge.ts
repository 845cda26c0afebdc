/**
 * A model that is cheap to write and honest to compute: ridge regression on polynomial features,
 * scored by k-fold cross-validation, on a dataset generated from a fixed seed. Declared with task()
 * because it uses the helpers of this module; each worker imports the module once.
 */
import { task } from 'joblib-ts';

/** One point of the grid. */
export interface RidgeParams {
  /** L2 penalty. */
  readonly alpha: number;
  /** Each raw feature x contributes x, x², ..., x^degree. */
  readonly degree: number;
  /** Number of cross-validation folds. */
  readonly folds: number;
  /** Size and seed of the generated dataset. */
  readonly samples: number;
  readonly seed: number;
}

export interface RidgeScore {
  /** Root mean squared error over the held-out folds. */
  readonly rmse: number;
  /** Coefficient of determination over the held-out folds. */
  readonly r2: number;
}

const FEATURES = 12;

/** Mean held-out error of ridge regression with these parameters (deterministic for a given seed). */
export const crossValidate = task(import.meta.url, function crossValidate(params: RidgeParams): RidgeScore {
  const { x, y } = dataset(params.samples, params.seed);
  const design = polynomialFeatures(x, params.samples, params.degree);
  const width = FEATURES * params.degree + 1;
  let squaredError = 0;
  let total = 0;
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  for (let fold = 0; fold < params.folds; fold++) {
    const isTest = (row: number) => row % params.folds === fold;
    const weights = fitRidge(design, y, width, params.alpha, (row) => !isTest(row));
    for (let row = 0; row < params.samples; row++) {
      if (!isTest(row)) continue;
      let prediction = 0;
      for (let j = 0; j < width; j++) prediction += (design[row * width + j] as number) * (weights[j] as number);
      squaredError += (prediction - (y[row] as number)) ** 2;
      total += ((y[row] as number) - mean) ** 2;
    }
  }
  return { rmse: Math.sqrt(squaredError / params.samples), r2: 1 - squaredError / total };
});

/** A reproducible regression problem: a smooth nonlinear target plus noise. */
function dataset(samples: number, seed: number): { x: Float64Array; y: Float64Array } {
  const random = mulberry32(seed);
  const x = new Float64Array(samples * FEATURES);
  const y = new Float64Array(samples);
  for (let row = 0; row < samples; row++) {
    let target = 0;
    for (let j = 0; j < FEATURES; j++) {
      const value = random() * 2 - 1;
      x[row * FEATURES + j] = value;
      target += Math.sin((j + 1) * value) / (j + 1) + (j % 3 === 0 ? value * value : 0);
    }
    y[row] = target + (random() - 0.5) * 0.2;
  }
  return { x, y };
}

function polynomialFeatures(x: Float64Array, samples: number, degree: number): Float64Array {
  const width = FEATURES * degree + 1;
  const out = new Float64Array(samples * width);
  for (let row = 0; row < samples; row++) {
    out[row * width] = 1; // intercept
    for (let j = 0; j < FEATURES; j++) {
      let power = 1;
      for (let d = 0; d < degree; d++) {
        power *= x[row * FEATURES + j] as number;
        out[row * width + 1 + j * degree + d] = power;
      }
    }
  }
  return out;
}

/** Solves (XᵀX + αI) w = Xᵀy over the rows `use` selects, by Cholesky decomposition. */
function fitRidge(design: Float64Array, y: Float64Array, width: number, alpha: number, use: (row: number) => boolean): Float64Array {
  const gram = new Float64Array(width * width);
  const rhs = new Float64Array(width);
  const rows = y.length;
  for (let row = 0; row < rows; row++) {
    if (!use(row)) continue;
    const offset = row * width;
    for (let i = 0; i < width; i++) {
      const xi = design[offset + i] as number;
      rhs[i] = (rhs[i] as number) + xi * (y[row] as number);
      for (let j = 0; j <= i; j++) gram[i * width + j] = (gram[i * width + j] as number) + xi * (design[offset + j] as number);
    }
  }
  for (let i = 0; i < width; i++) gram[i * width + i] = (gram[i * width + i] as number) + (i === 0 ? 1e-9 : alpha);
  // Cholesky: gram = L Lᵀ, stored in the lower triangle.
  for (let i = 0; i < width; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = gram[i * width + j] as number;
      for (let k = 0; k < j; k++) sum -= (gram[i * width + k] as number) * (gram[j * width + k] as number);
      gram[i * width + j] = i === j ? Math.sqrt(Math.max(sum, 1e-12)) : sum / (gram[j * width + j] as number);
    }
  }
  const z = new Float64Array(width);
  for (let i = 0; i < width; i++) {
    let sum = rhs[i] as number;
    for (let k = 0; k < i; k++) sum -= (gram[i * width + k] as number) * (z[k] as number);
    z[i] = sum / (gram[i * width + i] as number);
  }
  const w = new Float64Array(width);
  for (let i = width - 1; i >= 0; i--) {
    let sum = z[i] as number;
    for (let k = i + 1; k < width; k++) sum -= (gram[k * width + i] as number) * (w[k] as number);
    w[i] = sum / (gram[i * width + i] as number);
  }
  return w;
}

/** A small seeded PRNG, so that every run (and every worker) sees the same data. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
