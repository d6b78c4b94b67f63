"""PyTorch's torch.amp.GradScaler on a sequence of gradients, for tests/unit/test_loss_scaler.cpp.

Usage: grad_scaler_reference.py INIT_SCALE GROWTH_INTERVAL STEPS.txt OUT.txt
Each line of STEPS.txt is one step's "true" gradients: 3 values for parameter a, then 2 for b
(inf/nan allowed). Every step runs GradScaler's recipe on the loss (a*ga).sum() + (b*gb).sum():
scale(loss).backward(), unscale_, step, update. OUT.txt gets one line per step,
"SCALE SKIPPED g0 .. g4" (the scale the step used, 1 if the optimizer step was skipped, the
unscaled gradients), then "final SCALE GROWTH_TRACKER". Exit status 77: no torch.amp.GradScaler.
"""
import sys

import torch


def main():
    init_scale, growth_interval = float(sys.argv[1]), int(sys.argv[2])
    steps_path, out_path = sys.argv[3], sys.argv[4]
    if not hasattr(torch, "amp") or not hasattr(torch.amp, "GradScaler"):
        sys.exit(77)
    a = torch.nn.Parameter(torch.zeros(3))
    b = torch.nn.Parameter(torch.zeros(2))

    class RecordingSgd(torch.optim.SGD):
        stepped = False

        def step(self, closure=None):
            RecordingSgd.stepped = True

    optimizer = RecordingSgd([a, b], lr=0.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_factor=2.0,
                                  backoff_factor=0.5, growth_interval=growth_interval)
    lines = []
    with open(steps_path) as steps:
        for line in steps:
            values = torch.tensor([float(t) for t in line.split()], dtype=torch.float32)
            scale = scaler.get_scale()
            loss = (a * values[:3]).sum() + (b * values[3:]).sum()
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            grads = torch.cat([a.grad, b.grad]).tolist()
            RecordingSgd.stepped = False
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            skipped = 0 if RecordingSgd.stepped else 1
            lines.append(" ".join(["%.9g" % scale, str(skipped)] + ["%.9g" % g for g in grads]))
    lines.append("final %.9g %d" % (scaler.get_scale(), int(scaler._growth_tracker.item())))
    with open(out_path, "w") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
