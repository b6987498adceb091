"""Run a command and print its peak RSS in KiB on the last line of stderr.

Linux carries a parent's RSS high-water mark into a forked child (through exec), so a
large benchmark process would inflate every child's figure; this small launcher keeps
the inherited part to a few MB.
"""

import os
import sys

pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\nOKAART_PEAK_RSS_KB={usage.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status))
