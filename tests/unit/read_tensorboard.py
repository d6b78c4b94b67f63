#!/usr/bin/env python3
"""The TensorBoard half of test_tensorboard.cpp: reads event files with TensorBoard's own reader
(EventAccumulator) and prints JSON {tag: [[step, value], ...]} of every scalar in PATH (one
event file, or a folder of them as `tensorboard --logdir` reads it), in the order read.

Exits 1, saying why, when a file's first record is not the "brain.Event:2" file version.

usage: read_tensorboard.py PATH
"""
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator, event_file_loader

FILE_VERSION = "brain.Event:2"


def event_files(path):
    if os.path.isfile(path):
        return [path]
    # TensorBoard's own rule (io_wrapper.IsTensorFlowEventsFile).
    return sorted(os.path.join(path, name) for name in os.listdir(path) if "tfevents" in name)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    for file in event_files(path):
        first = next(iter(event_file_loader.EventFileLoader(file).Load()), None)
        if first is None or first.file_version != FILE_VERSION:
            sys.exit(f"{file}: the first record is not the file version {FILE_VERSION!r}: {first}")
    # purge_orphaned_data=False: by default TensorBoard drops the events at and past a step that
    # comes again (a restart), which would hide the duplicated steps the resume tests look for.
    accumulator = event_accumulator.EventAccumulator(
        path, size_guidance={event_accumulator.SCALARS: 0}, purge_orphaned_data=False)
    accumulator.Reload()
    scalars = {tag: [[event.step, event.value] for event in accumulator.Scalars(tag)]
               for tag in accumulator.Tags()[event_accumulator.SCALARS]}
    print(json.dumps(scalars))


if __name__ == "__main__":
    main()
