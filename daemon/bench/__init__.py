"""`stylecam bench`: the real pipeline and the network, measured.

run      the command: arguments, one fresh Pipeline per output size, goals, report, --json
source   the input: a clip decoded into memory once and served like a camera (BenchError)
probe    what is measured: a record per finished frame, the process's CPU and memory
stress   --stress: the adaptive controller under busy child processes
network  the network alone: --profile (ORT's profiler, every precision) and --compare
"""
