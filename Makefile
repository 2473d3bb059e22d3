# The two commands a newcomer needs: `make demo` and `make test`.
# Both install the Debian packages they need first (scripts/deps.sh).

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
DEMO_DIR   ?= demo
DEMO_STORE ?= sqlite:$(DEMO_DIR)/teller.db
DEMO_CUSTOMERS ?= 10000
# the LLM the demo serves when the shared models are beside the repository
DEMO_LLM   ?= $(or $(TELLER_SHARED),../shared)/models/stories260K/stories260K.gguf

.PHONY: all deps build test demo bench clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DTELLER_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, through
# CTest; PostgreSQL is started and stopped by the pg_start/pg_stop fixtures.
test: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTELLER_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@bash scripts/run-tests.sh $(ASAN_BUILD)

# the demo's data key lives beside its store, not in the working directory;
# fraud trains on the last 90 days of card payments: about two minutes on two
# cores (the whole year takes seven)
demo: export TELLER_DATA_KEY_FILE = $(DEMO_DIR)/teller.key
demo: build
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	$(BUILD)/teller generate --customers $(DEMO_CUSTOMERS) --seed 42 --out $(DEMO_DIR)/data
	$(BUILD)/teller init --store $(DEMO_STORE)
	$(BUILD)/teller ingest --store $(DEMO_STORE) $(DEMO_DIR)/data
	$(BUILD)/teller stats --store $(DEMO_STORE)
	$(BUILD)/teller credit train --store $(DEMO_STORE)
	$(BUILD)/teller fraud train --store $(DEMO_STORE) --train-days 90
	$(BUILD)/teller profile --store $(DEMO_STORE) --refresh-all
	$(BUILD)/teller segments --store $(DEMO_STORE)
	$(BUILD)/teller recommend train --store $(DEMO_STORE)
	$(BUILD)/teller profile --store $(DEMO_STORE) C000001
	$(BUILD)/teller recommend --store $(DEMO_STORE) C000001
	$(BUILD)/teller models list --store $(DEMO_STORE)
	@echo "admin key (keys, models, configuration): $$($(BUILD)/teller keys create --store $(DEMO_STORE) --role admin --name demo-admin 2>/dev/null)"
	@echo "analyst key (reads customer data):       $$($(BUILD)/teller keys create --store $(DEMO_STORE) --role analyst --name demo-analyst 2>/dev/null)"
	@echo "service key (ingest, credit, fraud):     $$($(BUILD)/teller keys create --store $(DEMO_STORE) --role service --name demo-service 2>/dev/null)"
	@echo 'try: curl -H "Authorization: Bearer <analyst key>" http://127.0.0.1:8080/v1/customers/C000001'
	@echo '     curl -H "Authorization: Bearer <service key>" -H "Content-Type: application/json" -d '"'"'{"amount":12000,"term_months":36,"purpose":"used_car","annual_income":42000,"existing_debt":3000,"employment_years":4,"delinquencies_2y":0}'"'"' http://127.0.0.1:8080/v1/credit/score'
	@echo '     curl -H "Authorization: Bearer <service key>" -H "Content-Type: application/json" -d '"'"'{"id":"T-demo-1","account_id":"A0000002","terminal_id":"TM0000001","amount":"-2450.00","currency":"EUR","country":"BR","ts":"'"$$(date -u +%FT%TZ)"'"}'"'"' http://127.0.0.1:8080/v1/transactions'
	@echo '     curl -H "Authorization: Bearer <analyst key>" http://127.0.0.1:8080/v1/alerts'
	@echo '     curl -H "Authorization: Bearer <analyst key>" http://127.0.0.1:8080/v1/customers/C000001/profile'
	@echo '     curl -H "Authorization: Bearer <analyst key>" "http://127.0.0.1:8080/v1/customers/C000001/recommendations?k=5"'
	@echo '     curl -H "Authorization: Bearer <analyst key>" http://127.0.0.1:8080/v1/segments'
	@if [ -r "$(DEMO_LLM)" ]; then echo '     curl -H "Authorization: Bearer <analyst key>" -H "Content-Type: application/json" -d '"'"'{"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":40}'"'"' http://127.0.0.1:8080/v1/chat/completions   (the tiny stories260K test model)'; fi
	@echo '(Ctrl-C stops)'
	@if [ -r "$(DEMO_LLM)" ]; then export TELLER_LLM_BACKEND=embedded TELLER_LLM_MODEL="$(DEMO_LLM)"; fi; \
	  $(BUILD)/teller serve --store $(DEMO_STORE) --listen 127.0.0.1:8080

bench: build
	@bash bench/ingest.sh
	@bash bench/http.sh
	@bash bench/credit.sh
	@bash bench/fraud.sh
	@bash bench/portfolio.sh
	@bash bench/nn.sh
	@bash bench/recsys.sh
	@if [ -n "$$LLAMA_BENCH" ]; then bash bench/llm.sh; else echo "bench/llm.sh skipped: set LLAMA_BENCH to llama.cpp's llama-bench"; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz $(DEMO_DIR)

# Real fuzzing: builds tests/fuzz with clang + libFuzzer in build-fuzz and runs
# each target for FUZZ_SECONDS (default 20); `make test` only replays corpora.
.PHONY: fuzz
fuzz: deps
	@bash scripts/fuzz.sh
