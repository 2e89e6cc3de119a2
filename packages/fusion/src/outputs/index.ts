/** The output kinds by name. Adding one is adding an `OutputKind` here (and its name to `OutputType`). */
import type { OutputType } from '../config.js';
import { categoryOutput } from './category.js';
import { multiLabelOutput } from './multi-label.js';
import { regressionOutput } from './regression.js';
import type { OutputKind } from './types.js';

export const OUTPUT_KINDS: Readonly<Record<OutputType, OutputKind>> = Object.freeze({
  category: categoryOutput,
  'multi-label': multiLabelOutput,
  regression: regressionOutput,
});

/** The kind object of an output type. */
export function outputKind(type: OutputType): OutputKind {
  return OUTPUT_KINDS[type];
}

export { NO_CALIBRATION, chooseThreshold, expectedCalibrationError, fitCalibration, fitTemperature, meanNll, scaledSoftmax } from './calibration.js';
export type { Calibration, CalibrationValidation, CalibrationSettings } from './calibration.js';
export type { BatchTargets, DecodeOptions, FittedOutput, LossOptions, OutputKind, OutputScores, Prediction, SavedOutput, Target, TargetLocation } from './types.js';
export { SCOPE_SCORES, energyOf, fitScopeReference, isScopeReference, percentileOf, scopeScore } from './scope.js';
export type { ScopeReference, ScopeScoreName } from './scope.js';
