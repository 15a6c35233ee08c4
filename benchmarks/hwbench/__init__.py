"""The benchmark harness behind ``benchmarks/run.py``: headwater side by side with Metaflow.

Modules:

* :mod:`hwbench.proc`      run one command as a fresh process and measure wall time and memory;
* :mod:`hwbench.systems`   the two systems under test (interpreters, environments, flow files);
* :mod:`hwbench.cases`     what is measured, one small class per kind of case;
* :mod:`hwbench.scaleout`  the cases against real servers: tasks on Dask, a large array on S3;
* :mod:`hwbench.registry`  every case in table order, and ``--cases`` selection;
* :mod:`hwbench.report`    medians, ratios, the tables, the machine, and ``docs/benchmarks.md``.
"""
