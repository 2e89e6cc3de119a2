/** The recurrent layer moved to @mmfuse/core (shared with audio/phonetic); re-exported here for compatibility. */
export { RecurrentLayer } from '@mmfuse/core';
export type { RecurrentApplyOptions, RecurrentCell, RecurrentLayerArgs, RecurrentOutput } from '@mmfuse/core';
