/** The seeded dropout now lives in @mmfuse/core (shared with the encoders); re-exported for the fusion layers. */
export { dropout, dropoutMask } from '@mmfuse/core';
