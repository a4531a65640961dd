"""The ``trainlab`` command: ``train``, ``evaluate``, ``config``.

A mistake the user can make ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import api
from .config import SCHEMA, documented_defaults, dumps, resolve
from .errors import UserError

TRAIN_HELP = """\
CONFIG is a TOML file; key=value overrides apply on top of it, values read as TOML:
  trainlab train optimizer.name=sgd optimizer.lr=0.1 optimizer.momentum=0.9 train.epochs=20
  trainlab train my.toml model.hidden=[256,256] train.shuffle=false train.batch_size='"full"'

Writes to --out (default runs/<timestamp>): config.toml, metrics.jsonl, summary.json,
last.pt and best.pt. `trainlab config` prints the defaults as TOML with comments.

keys:
"""


def _keys_help() -> str:
    width = max(map(len, SCHEMA))
    lines = []
    for name, key in SCHEMA.items():
        allowed = f" [{'|'.join(key.choices)}]" if key.choices else ""
        lines.append(f"  {name:<{width}}  {key.doc}{allowed} (default {key.default!r})")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trainlab", description="Train neural networks with the "
                                "lectures' techniques.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    t = sub.add_parser("train", help="train a model (lecture 000's recipe)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=TRAIN_HELP + _keys_help())
    t.add_argument("args", nargs="*", metavar="[CONFIG.toml] [key=value ...]")
    t.add_argument("--out", help="run folder to create (default runs/<timestamp>)")
    t.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR")
    t.add_argument("--progress", choices=("auto", "bar", "lines", "quiet"), default="auto",
                   help="auto: a live bar in a terminal, a line per epoch otherwise")
    e = sub.add_parser("evaluate", help="evaluate a run's checkpoint on its test split")
    e.add_argument("run_dir", metavar="DIR")
    e.add_argument("--checkpoint", choices=("best", "last"), default="best")
    e.add_argument("--device", choices=("auto", "cpu", "cuda"))
    c = sub.add_parser("config", help="print the default config with a comment on every key, or "
                       "the config that CONFIG and overrides resolve to")
    c.add_argument("args", nargs="*", metavar="[CONFIG.toml] [key=value ...]")
    return p


def split_args(args: list[str]) -> tuple[str | None, list[str]]:
    """``[CONFIG] key=value ...`` -> (CONFIG or None, overrides)."""
    config = None
    overrides = []
    for i, a in enumerate(args):
        if "=" in a:
            overrides.append(a)
        elif i == 0:
            config = a
        else:
            raise UserError(f"unexpected argument {a!r}: expected key=value (only the first "
                            "argument may be a config file)")
    return config, overrides


def _train(ns: argparse.Namespace) -> int:
    if ns.resume:
        if ns.args or ns.out:
            raise UserError("--resume DIR takes no config, overrides or --out: the run continues "
                            "with its own config.toml")
        summary = api.resume(ns.resume, progress=ns.progress)
    else:
        config, overrides = split_args(ns.args)
        summary = api.train(config, overrides, out=ns.out, progress=ns.progress)
    if summary["diverged"]:
        print(f"diverged at epoch {summary['diverged_at_epoch']}")
    if summary["test_accuracy"] is not None:
        print(f"test accuracy {summary['test_accuracy']:.4f}  test loss {summary['test_loss']:.4f}"
              f"  ({summary['evaluated']} epoch {summary['best_epoch'] if summary['evaluated'] == 'best' else summary['epochs_run']}"
              f" of {summary['epochs_run']}, {summary['wall_time_s']:.1f}s)")
    print(f"run written to {summary['run_dir']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(argv)
    try:
        if ns.command == "train":
            return _train(ns)
        if ns.command == "evaluate":
            r = api.evaluate(ns.run_dir, ns.checkpoint, ns.device)
            print(f"test accuracy {r['test_accuracy']:.4f}  test loss {r['test_loss']:.4f}  "
                  f"({r['checkpoint']} checkpoint, {r['samples']} samples)")
            return 0
        if ns.args:
            print(dumps(resolve(*split_args(ns.args))), end="")
        else:
            print(documented_defaults(), end="")
        return 0
    except UserError as e:
        print(f"trainlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trainlab: interrupted (continue with trainlab train --resume DIR)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `trainlab config | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
