# Seeing and Fooling ConvNets: `make lab` opens the course, `make test` runs every test.
# Both bootstrap a virtual environment in .venv on first use (Python >= 3.10).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
SHARED ?= ../shared/data

.PHONY: setup data lab test benchmarks student slides site badges clean-cache

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	# torchattacks (a test reference) pins an old requests; install it without its pins.
	$(PY) -m pip install -q --no-deps "torchattacks>=3.5"
	touch $@

# Link the offline data folders (ImageNet samples, MNIST test set, ...) when a shared copy is beside the repo.
data:
	@if [ -d "$(SHARED)" ]; then \
	  for d in $(SHARED)/*/; do n=$$(basename $$d); \
	    [ -e data/$$n ] || ln -s "$$(cd $$d && pwd)" data/$$n; done; \
	  echo "data: linked $$(ls $(SHARED) | grep -v README | tr '\n' ' ')from $(SHARED)"; \
	fi

lab: setup data
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

test: setup data
	$(PY) -m ruff check . && LECTURES_MODE=fast $(PY) -m pytest --nbval-lax tests notebooks

# Student copies in student/: solutions stubbed, answers removed, outputs cleared (lectures_lib/student.py).
student: setup
	$(PY) -m lectures_lib.student --out student

# reveal.js decks of every lesson in build/slides (offline: reveal.js, MathJax ... fetched once with npm).
slides: setup
	$(PY) -m lectures_lib.publish slides --out build/slides

# The executed lessons (lesson mode) as a static site with an index, in build/site.
site: setup data
	$(PY) -m lectures_lib.publish site --out build/site --mode lesson

# Colab badges and install cells of every notebook from [project.urls] Repository in pyproject.toml.
badges: setup
	$(PY) -m lectures_lib.publish badges

benchmarks: setup data
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean-cache:
	rm -rf data/checkpoints
