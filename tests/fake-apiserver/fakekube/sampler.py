"""sampler.py - an opt-in sampling profiler for the fake API server (for
benchmarks: where does the fake spend its time with 10,000 objects?).
With FAKE_APISERVER_PROFILE=FILE in the environment, a thread samples the
stacks of every other thread every 5 ms (sys._current_frames) and, when
the server stops, writes to FILE the functions seen at the top of a stack
(self) and anywhere in it (cumulative), most frequent first. Threads
blocked in I/O, on a lock or a condition (whose top frame is one of
IDLE) are counted apart as idle. Never changes what the server answers."""
import atexit
import collections
import os
import sys
import threading
import time


IDLE = {"wait", "select", "accept", "readinto", "readline", "_wait_for_tstate_lock", "sleep",
        "serve_forever", "get_request", "recv_into", "poll"}


def _where(code):
    return "%s:%d %s" % (os.path.basename(code.co_filename), code.co_firstlineno, code.co_name)


def start_from_env():
    path = os.environ.get("FAKE_APISERVER_PROFILE")
    if not path:
        return
    own = collections.Counter()
    cum = collections.Counter()
    total = [0]
    idle = [0]
    stop = threading.Event()

    def run():
        me = threading.get_ident()
        while not stop.is_set():
            for tid, frame in sys._current_frames().items():
                if tid == me:
                    continue
                if frame.f_code.co_name in IDLE:
                    idle[0] += 1
                    continue
                total[0] += 1
                own[_where(frame.f_code)] += 1
                seen = set()
                while frame is not None:
                    w = _where(frame.f_code)
                    if w not in seen:
                        seen.add(w)
                        cum[w] += 1
                    frame = frame.f_back
            time.sleep(0.005)

    def report():
        stop.set()
        with open(path, "w") as f:
            f.write("busy samples (thread stacks): %d, idle: %d\n\n-- self --\n"
                    % (total[0], idle[0]))
            for w, n in own.most_common(40):
                f.write("%6.2f%% %s\n" % (100.0 * n / max(total[0], 1), w))
            f.write("\n-- cumulative --\n")
            for w, n in cum.most_common(80):
                f.write("%6.2f%% %s\n" % (100.0 * n / max(total[0], 1), w))

    threading.Thread(target=run, name="sampler", daemon=True).start()
    atexit.register(report)
