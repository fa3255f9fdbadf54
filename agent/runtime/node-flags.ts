// V8 flags the agent runs with in production (launcher, npm start, benchmarks). A small young
// generation keeps the resident set of an edge device low at the cost of more frequent, cheap
// scavenges; measured in docs/PERFORMANCE.md (bridge).
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=4'];
