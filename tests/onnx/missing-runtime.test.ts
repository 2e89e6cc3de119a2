// Without the optional onnxruntime-node package, asking for the onnx runtime is a typed EngineError that
// names the package and how to install it (the import is made to fail here, as in an install without it).
import { describe, expect, it, vi } from 'vitest';
import { EngineError } from '@mmfuse/core';

vi.mock('onnxruntime-node', () => {
  throw new Error("Cannot find package 'onnxruntime-node'");
});

describe('onnx runtime without onnxruntime-node', () => {
  it('load refuses with an EngineError naming the package', async () => {
    const { OnnxFusionModel, loadOnnxRuntime } = await import('@mmfuse/fusion');
    await expect(loadOnnxRuntime()).rejects.toBeInstanceOf(EngineError);
    await expect(OnnxFusionModel.load(new Uint8Array(4))).rejects.toThrow(/npm install onnxruntime-node/);
  });
});
