# Sloth and Pyrra, built from their Go modules into $(SLO_CACHE)/peers for the migration equivalence
# tests only: their own rules are what our imported SLOs' alerts are compared with.
#   make peers          build/cache both (cold: 10-20 min on two busy cores; warm: instant)
.PHONY: peers

peers: ## Sloth and Pyrra binaries for the migration tests (built once into ~/.cache/slo-operator/peers)
	hack/peers/build.sh

test unit: peers
