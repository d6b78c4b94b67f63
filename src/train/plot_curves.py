#!/usr/bin/python3
"""Draws curves.png from metrics.csv: accuracy and loss, train and val, per epoch (the
notebook's figure), plus val top-5 accuracy where metrics.csv has it (more than 5 classes; empty
otherwise, and absent in files of an older nxt) and the EMA's val curves where it has them
(train.ema_decay). Called by nxt_ddp's rank 0 after each epoch; writes atomically."""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

csv_path, png_path = sys.argv[1], sys.argv[2]
with open(csv_path) as f:
    rows = list(csv.DictReader(f))
epochs = [int(r["epoch"]) for r in rows]
fig, (acc, loss) = plt.subplots(1, 2, figsize=(11, 4))
for axis, key, title in ((acc, "acc", "Accuracy"), (loss, "loss", "Loss")):
    axis.plot(epochs, [float(r["train_" + key]) for r in rows], "o-", label="train")
    axis.plot(epochs, [float(r["val_" + key]) for r in rows], "o-", label="val")
    if key == "acc" and rows and all(r.get("val_top5") for r in rows):
        axis.plot(epochs, [float(r["val_top5"]) for r in rows], "o--", label="val top-5")
    if rows and all(r.get("val_%s_ema" % key) for r in rows):
        axis.plot(epochs, [float(r["val_%s_ema" % key]) for r in rows], "o--", label="val EMA")
    axis.set_title(title)
    axis.set_xlabel("epoch")
    axis.grid(alpha=0.3)
    axis.legend()
fig.tight_layout()
temp = png_path + ".tmp.png"
fig.savefig(temp, dpi=100)
with open(temp, "rb") as f:
    os.fsync(f.fileno())
os.replace(temp, png_path)
