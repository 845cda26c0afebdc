/** Types of bench/tasks.mjs (documented there). */
export declare function spin(iterations: number, seed: number): number;
export declare function arraySum(values: Float64Array): number;
export declare function sliceSum(values: Float64Array, index: number, count: number, passes: number): number;
export declare function isPerfect(n: number): boolean;
export declare function noop<T>(value: T): T;
