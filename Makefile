# isola: top-level build. `make run` and `make test` install what is missing, build
# everything and then run the demo or the whole test suite. Both are safe to run twice.
MVN ?= mvn -B -q
DEMO_DIR := build/images

.PHONY: all setup build java cds guest-image demo-image run test unit-test clean bench bench-start bench-api bench-shim bench-net bench-warm bench-neighbour
all: build

setup:
	@scripts/setup.sh

build: setup java guest-image demo-image cds

java:
	@echo "[build] Java modules (Maven)"
	@$(MVN) install -DskipTests

# Class-data-sharing archives for the launchers; `isola run`'s is trained on the demo image.
cds: java guest-image demo-image
	@scripts/cds-archives.sh

guest-image:
	@$(MAKE) --no-print-directory -C guest-image

demo-image:
	@guest-image/demo-image/build.sh $(DEMO_DIR)

# Boots a sandbox VM and runs the demo container in it.
run: build
	@scripts/demo.sh $(DEMO_DIR)/demo-oci

# The whole suite: unit tests and the integration tests that boot real VMs.
test: build
	@$(MVN) verify -Disola.demoImage=$(CURDIR)/$(DEMO_DIR)/demo-oci

unit-test: setup
	@$(MVN) verify -pl proto,vmm,shim -am

clean:
	@$(MVN) clean
	@$(MAKE) --no-print-directory -C guest-image clean
	rm -rf build

# Cold start of `isola run --rm DEMO -- true` beside its floor, median of RUNS, in one process.
RUNS ?= 5
bench-start: build
	@java -cp "vmm/target/isola-vmm.jar:vmm/target/lib/*" io.isola.vmm.bench.StartBenchmark \
	  bin/isola guest-image/out/catalog.json $(DEMO_DIR)/demo-oci $(RUNS) 256

# isolad: API create+start+wait vs embedded isola run, List p99 with 20 sandboxes, isolad RSS.
bench-api: build
	@java -cp "vmm/target/isola-vmm.jar:vmm/target/lib/*" io.isola.vmm.bench.ApiBenchmark \
	  . $(DEMO_DIR)/demo-oci $(RUNS)

# containerd: `ctr run --rm IMG true` with isola beside runc (median of RUNS), shim RSS per pod.
bench-shim: build
	@$(MVN) test -pl integration-tests -Dtest=ShimStartBenchmark -Disola.bench=true -Disola.bench.runs=$(RUNS) \
	  -Disola.demoImage=$(CURDIR)/$(DEMO_DIR)/demo-oci -Dsurefire.failIfNoSpecifiedTests=false

# TCP RTT and throughput container <-> peer: netns and nat sandboxes beside two plain namespaces.
bench-net: build
	@$(MVN) test -pl integration-tests -Dtest=NetworkBenchmark -Disola.bench=true -Disola.bench.runs=$(RUNS) \
	  -Disola.demoImage=$(CURDIR)/$(DEMO_DIR)/demo-oci -Dsurefire.failIfNoSpecifiedTests=false

# Warm start (a VM from the warm pool) beside cold start, API create+start+wait, one isolad.
bench-warm: build
	@$(MVN) test -pl integration-tests -Dtest=WarmStartBenchmark -Disola.bench=true -Disola.bench.runs=$(RUNS) \
	  -Disola.demoImage=$(CURDIR)/$(DEMO_DIR)/demo-oci -Dsurefire.failIfNoSpecifiedTests=false

# The benchmark suite: every row of docs/performance.md measured in one run, as ratios with
# medians of RUNS; the table is printed and written to build/bench.txt. DENSITY caps row 6;
# DENSITY_KERNEL=minimal runs row 6 on the catalog's minimal kernel; ONLY=exec,... runs some groups.
DENSITY ?= 150
DENSITY_KERNEL ?=
ONLY ?=
bench: build
	@$(MVN) test -pl integration-tests -Dtest=BenchSuite -Disola.bench=true -Disola.bench.runs=$(RUNS) \
	  -Disola.bench.density=$(DENSITY) -Disola.bench.density.kernel=$(DENSITY_KERNEL) \
	  -Disola.bench.only=$(ONLY) -Disola.bench.out=$(CURDIR)/build/bench.txt \
	  -Disola.demoImage=$(CURDIR)/$(DEMO_DIR)/demo-oci -Dsurefire.failIfNoSpecifiedTests=false

# Exec latency of a quiet sandbox beside one that floods stdout, trickles, spins or stops answering.
bench-neighbour: build
	@$(MVN) test -pl integration-tests -Dtest=NeighbourBenchmark -Disola.bench=true -Disola.bench.runs=$(RUNS) \
	  -Disola.demoImage=$(CURDIR)/$(DEMO_DIR)/demo-oci -Dsurefire.failIfNoSpecifiedTests=false
