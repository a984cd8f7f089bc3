// The model commands over MQTT (docs/models.md, docs/mqtt.md#model-commands): thin wiring from
// the router to the model-lifecycle part; without a model store each is refused with `no_store`.
import { CommandError, type CommandHandlers, type InstallArgs } from "./commands.js";

type Request = { id: string | null };

/** What the model-lifecycle part does for each command; refusals are CommandErrors. */
export interface ModelCommands {
  install(args: InstallArgs, req: Request): Promise<object>;
  status(): object;
  gate(req: Request): Promise<object>;
  promote(force: boolean, req: Request): Promise<object>;
  rollback(req: Request): Promise<object>;
  discard(req: Request): Promise<object>;
}

type ModelHandlerNames =
  | "model_install"
  | "model_status"
  | "model_gate"
  | "model_promote"
  | "model_rollback"
  | "model_discard";

export function modelCommandHandlers(m: ModelCommands | null): Pick<CommandHandlers, ModelHandlerNames> {
  const lifecycle = (): ModelCommands => {
    if (!m)
      throw new CommandError(
        "no_store",
        "this device has no model store (model.store is null): models cannot be installed or changed remotely",
      );
    return m;
  };
  return {
    model_install: (args, req) => lifecycle().install(args, req),
    model_status: () => lifecycle().status(),
    model_gate: (_args, req) => lifecycle().gate(req),
    model_promote: (args, req) => lifecycle().promote(args.force ?? false, req),
    model_rollback: (_args, req) => lifecycle().rollback(req),
    model_discard: (_args, req) => lifecycle().discard(req),
  };
}
