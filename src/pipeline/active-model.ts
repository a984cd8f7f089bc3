// Everything that depends on which model inspects the line, built together from one model
// directory and replaced together: the pipeline reads it once per frame, so swapping it between
// two frames is one assignment and no frame is ever decided by half of one model and half of another.
import type { DecisionPolicy } from "../decision/decide.js";
import type { Manifest } from "../model/manifest.js";
import { Preprocessor, type Roi } from "../model/preprocess.js";
import { ModelSession } from "../model/session.js";
import { type DriftReference, driftReference } from "../monitor/drift-reference.js";
import type { FeatureName } from "../monitor/frame-features.js";
import { type OodBounds, oodBounds } from "../monitor/ood.js";

/** Which model decided a frame: carried by every decided frame, sample and decision message. */
export interface ModelIdentity {
  name: string;
  version: string;
  sha256: string;
}

export interface ActiveModelOptions {
  threads: number;
  /** Camera region of interest, cropped before the resize. */
  roi?: Roi;
  /** Overrides of the manifest's calibrated decision values (null: the manifest's). */
  decision: {
    threshold: number | null;
    uncertainBand: number | null;
    uncertainAction: "pass" | "reject";
  };
  /** Drift detection; null when it is off. */
  drift: { prevalence: number | null } | null;
}

export class ActiveModel {
  readonly identity: ModelIdentity;

  private constructor(
    readonly session: ModelSession,
    readonly preprocessor: Preprocessor,
    readonly policy: DecisionPolicy,
    /** What the line should look like to this model; null when drift is off or the manifest has no reference. */
    readonly driftReference: DriftReference | null,
    /** Feature ranges beyond which a frame is out of distribution; null like driftReference. */
    readonly ood: Record<FeatureName, OodBounds> | null,
    private readonly drift: ActiveModelOptions["drift"],
  ) {
    const m = session.manifest;
    this.identity = { name: m.name, version: m.version, sha256: m.sha256 };
  }

  get manifest(): Manifest {
    return this.session.manifest;
  }

  /** The model's label for a part that passes. */
  get negativeLabel(): string {
    return this.policy.negativeLabel;
  }

  /**
   * Loads and checks the model, builds what depends on it, and runs it once on a blank input so
   * the first real frame does not pay onnxruntime's first-run cost.
   */
  static async load(dir: string, options: ActiveModelOptions): Promise<ActiveModel> {
    const session = await ModelSession.load(dir, { threads: options.threads });
    try {
      const m = session.manifest;
      await session.run(new Float32Array(m.input.shape.reduce((a, b) => a * b, 1)));
      return ActiveModel.build(session, options);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /**
   * The same loaded session in another role (shadow candidate -> active model): other decision
   * values, crop and drift options, no new onnxruntime session (creating one blocks the thread
   * that reads the camera). The two share the session: only one of them may be released.
   */
  withOptions(options: ActiveModelOptions): ActiveModel {
    return ActiveModel.build(this.session, options);
  }

  private static build(session: ModelSession, options: ActiveModelOptions): ActiveModel {
    const m = session.manifest;
    const policy: DecisionPolicy = {
      threshold: options.decision.threshold ?? m.decision.threshold,
      uncertainBand: options.decision.uncertainBand ?? m.decision.uncertain_band,
      uncertainAction: options.decision.uncertainAction,
      negativeLabel: m.labels.find((l) => l !== m.positive_label) as string,
      positiveLabel: m.positive_label,
    };
    const reference = options.drift && m.reference ? m.reference : null;
    const ood = reference ? oodBounds(reference.features) : null;
    const preprocessor = new Preprocessor(m.input, options.roi);
    return new ActiveModel(session, preprocessor, policy, lineReference(m, options.drift, policy), ood, options.drift);
  }

  /**
   * The same model deciding with another policy (a threshold changed remotely); shares the
   * session. The drift reference follows: the expected reject and uncertain rates depend on the
   * threshold.
   */
  withPolicy(policy: DecisionPolicy): ActiveModel {
    const reference = lineReference(this.manifest, this.drift, policy);
    return new ActiveModel(this.session, this.preprocessor, policy, reference, this.ood, this.drift);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** What the line should look like to this model at this policy; null when drift is off or the manifest has no reference. */
function lineReference(m: Manifest, drift: ActiveModelOptions["drift"], policy: DecisionPolicy): DriftReference | null {
  if (!drift || !m.reference) return null;
  return driftReference(m.reference, {
    prevalence: drift.prevalence,
    threshold: policy.threshold,
    uncertainBand: policy.uncertainBand,
    uncertainAction: policy.uncertainAction,
  });
}
