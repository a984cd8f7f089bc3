// onnxruntime-node session for one model, created once, checked against its manifest.
import * as ort from "onnxruntime-node";
import type { Manifest } from "./manifest.js";
import { type ModelFiles, ModelRefusedError, readModelFiles } from "./model-file.js";
import { positiveIndex, positiveScore } from "./scores.js";

export interface SessionOptions {
  /** Threads for one inference; 1 leaves the other core to capture and preprocessing. */
  threads: number;
  /** Where onnxruntime writes the graph it actually runs (to check for int8 kernels). */
  optimizedModelPath?: string;
}

export interface Inference {
  /** Probability of the positive (reject) label. */
  score: number;
  output: Float32Array;
}

function sameShape(actual: ReadonlyArray<number | string>, expected: readonly number[]): boolean {
  // A symbolic (string) or -1 dimension in the model accepts the manifest's fixed size.
  return (
    actual.length === expected.length && actual.every((d, i) => typeof d === "string" || d === -1 || d === expected[i])
  );
}

export class ModelSession {
  private constructor(
    readonly files: ModelFiles,
    private readonly session: ort.InferenceSession,
    /** onnxruntime's intra-op threads: a session is reused for another role only with the same count. */
    readonly threads: number,
  ) {}

  get manifest(): Manifest {
    return this.files.manifest;
  }

  static async load(dir: string, options: SessionOptions): Promise<ModelSession> {
    const files = await readModelFiles(dir);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(files.bytes, {
        intraOpNumThreads: options.threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
        logSeverityLevel: 3,
        ...(options.optimizedModelPath ? { optimizedModelFilePath: options.optimizedModelPath } : {}),
      });
    } catch (err) {
      throw new ModelRefusedError(`onnxruntime cannot load ${files.onnxPath}: ${(err as Error).message}`);
    }
    const problems = checkIo(files.manifest, session);
    if (problems.length > 0) {
      await session.release();
      throw new ModelRefusedError(
        `${files.onnxPath} does not match its manifest:\n${problems.map((p) => `  ${p}`).join("\n")}`,
      );
    }
    return new ModelSession(files, session, options.threads);
  }

  async run(tensor: Float32Array): Promise<Inference> {
    const m = this.manifest;
    const feeds = { [m.input.name]: new ort.Tensor("float32", tensor, m.input.shape) };
    const result = await this.session.run(feeds);
    const out = result[m.output.name];
    if (!out) throw new Error(`model produced no output named ${m.output.name}`);
    const output = out.data as Float32Array;
    return { score: positiveScore(output, m.output.kind, positiveIndex(m)), output };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function checkIo(m: Manifest, session: ort.InferenceSession): string[] {
  const problems: string[] = [];
  const check = (
    what: "input" | "output",
    meta: readonly ort.InferenceSession.ValueMetadata[],
    spec: { name: string; shape: number[] },
  ) => {
    const found = meta.find((v) => v.name === spec.name);
    if (!found) {
      problems.push(
        `manifest ${what}.name is "${spec.name}" but the model's ${what}s are [${meta.map((v) => v.name).join(", ")}]`,
      );
      return;
    }
    if (!found.isTensor || found.type !== "float32") {
      problems.push(
        `model ${what} "${spec.name}" is ${found.isTensor ? found.type : "not a tensor"}, expected float32`,
      );
    } else if (!sameShape(found.shape, spec.shape)) {
      problems.push(
        `manifest ${what}.shape is [${spec.shape.join(", ")}] but the model's "${spec.name}" is [${found.shape.join(", ")}]`,
      );
    }
  };
  check("input", session.inputMetadata, m.input);
  check("output", session.outputMetadata, m.output);
  const classes = m.output.shape[m.output.shape.length - 1];
  if (classes !== m.labels.length) {
    problems.push(`manifest output.shape ends in ${classes} classes but labels has ${m.labels.length}`);
  }
  return problems;
}
