"""The rows of ``tools/analysis_tools/cuda_check.py``, one module per section (docs/cuda_check.md):

* :mod:`.common` - constants, thresholds, the row record, comparisons, the run's context;
* :mod:`.models` - models and inputs built from the repository's configs;
* :mod:`.kernels` - deformable attention and query-transformer attention (correctness);
* :mod:`.parity` - whole models: device vs CPU, converted HF models vs HF (correctness);
* :mod:`.amp` - mixed-precision training curves against float32;
* :mod:`.speed` - peer benchmark, inference FPS, training step;
* :mod:`.rows` - the ordered rows and their selection;
* :mod:`.report` - running a row, the table and the JSON;
* :mod:`.cli` - the command line.
"""
