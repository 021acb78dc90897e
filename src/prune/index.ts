export { entriesToPrune, roundHalfEven, type Amount } from './amount.js';
export { selectSmallest, selectSmallestAsync, type NanRule, type Selection, type SelectOptions } from './select.js';
export { Tensor } from './tensor.js';
export * from './unstructured.js';
export { blockUnstructured, nm, nmAsync, type BlockOptions, type NMOptions } from './granularity.js';
export { layerBudgets, sigma, sigmaThreshold, threshold, type LayerShape } from './thresholds.js';
export { ActivationStats, adaptiveScores, ImportanceAccumulator, type Criterion } from './scores.js';
export { apply, sensitivity, type PlanRule, type SensitivityOptions, type SensitivityRow, type StateDict } from './plan.js';
export { lnStructured, randomStructured, type StructuredOptions } from './structured.js';
