export { BsrMatrix, type BlockShape } from './bsr.js';
export { CsrMatrix, type FromCooOptions, type FromDenseOptions } from './csr.js';
export { SparseMatrix, bsrKernelPath, type BsrPrecision, type DeviceOutOptions, type MatmulOptions, type OutOptions } from './matrix.js';
export { sddmm, sddmmAsync } from './sddmm.js';
export { advise, blockFill, type Advice, type AdviseOptions, type Candidate } from './advise.js';
export { DeviceCsrMatrix } from './device.js';
export { find24Violation, semiStructuredMatmul, semiStructuredMatmulAsync, type SemiStructuredOptions, type Violation24 } from './semi_structured.js';
