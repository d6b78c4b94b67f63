"""torchvision's model EMA on a recorded sequence of model states, for tests/unit/test_ema.cpp.

torchvision keeps its ExponentialMovingAverage in references/classification/utils.py, not in the
package, so it is defined here exactly as there: an AveragedModel with use_buffers=True and
avg_fn decay * avg + (1 - decay) * p. The decay adjustment and the update loop are
references/classification/train.py's.

Usage: ema_reference.py DIR
DIR holds (written by the C++ test):
  kinds.txt     one line per tensor, in the model's order: "param NAME" or "buffer NAME"
  initial.pt    the model's state when the EMA was made (a plain {name: tensor} dict)
  args.txt      "EMA_DECAY WORLD_SIZE BATCH_SIZE EMA_STEPS EPOCHS LR_WARMUP_EPOCHS"
  updates.txt   one line per EMA update: "STATE_FILE EPOCH" (0-based epoch), the model's state
                after the optimizer step the update follows
  decays.txt    lines "EMA_DECAY WORLD_SIZE BATCH_SIZE EMA_STEPS EPOCHS" for the decay check
It writes:
  reference_ema.pt   the EMA's final state, {name: tensor} (integer buffers as torchvision has
                     them: averaged in float, truncated on the copy back)
  reference.txt      "decay D" (the adjusted decay of args.txt, repr), "n_averaged N", then one
                     "adjusted D" line per decays.txt line
"""
import os
import sys

import torch


class ExponentialMovingAverage(torch.optim.swa_utils.AveragedModel):
    """torchvision's references/classification/utils.py ExponentialMovingAverage."""

    def __init__(self, model, decay, device="cpu"):
        def ema_avg(avg_model_param, model_param, num_averaged):
            return decay * avg_model_param + (1 - decay) * model_param

        super().__init__(model, device, ema_avg, use_buffers=True)


def adjusted_decay(model_ema_decay, world_size, batch_size, model_ema_steps, epochs):
    """torchvision's references/classification/train.py, verbatim arithmetic."""
    adjust = world_size * batch_size * model_ema_steps / epochs
    alpha = 1.0 - model_ema_decay
    alpha = min(1.0, alpha * adjust)
    return 1.0 - alpha


class StateModule(torch.nn.Module):
    """The model's tensors as parameters and buffers, in its order (names made attribute-safe)."""

    def __init__(self, kinds, state):
        super().__init__()
        for kind, name in kinds:
            key = name.replace(".", "__")
            tensor = state[name].clone()
            if kind == "param":
                self.register_parameter(key, torch.nn.Parameter(tensor))
            else:
                self.register_buffer(key, tensor)

    def load(self, kinds, state):
        with torch.no_grad():
            for kind, name in kinds:
                getattr(self, name.replace(".", "__")).copy_(state[name])


def main():
    folder = sys.argv[1]
    path = lambda name: os.path.join(folder, name)  # noqa: E731
    kinds = [tuple(line.split()) for line in open(path("kinds.txt")) if line.strip()]
    model = StateModule(kinds, torch.load(path("initial.pt")))
    ema_decay, world, batch, steps, epochs, warmup = open(path("args.txt")).read().split()
    decay = adjusted_decay(float(ema_decay), int(world), int(batch), int(steps), int(epochs))
    model_ema = ExponentialMovingAverage(model, decay=decay, device="cpu")
    # train_one_epoch's EMA lines, for each recorded update.
    for line in open(path("updates.txt")):
        if not line.strip():
            continue
        state_file, epoch = line.split()
        model.load(kinds, torch.load(path(state_file)))
        model_ema.update_parameters(model)
        if int(epoch) < float(warmup):
            # Reset ema buffer to keep copying weights during warmup period
            model_ema.n_averaged.fill_(0)
    final = {name: getattr(model_ema.module, name.replace(".", "__")).detach().clone()
             for _, name in kinds}
    torch.save(final, path("reference_ema.pt"))
    lines = ["decay %r" % decay, "n_averaged %d" % int(model_ema.n_averaged.item())]
    for line in open(path("decays.txt")):
        if line.strip():
            d, w, b, s, e = line.split()
            lines.append("adjusted %r" % adjusted_decay(float(d), int(w), int(b), int(s), int(e)))
    with open(path("reference.txt"), "w") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
