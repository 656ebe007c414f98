// Validates every ServiceMonitor in the rendered JSON files against prometheus-operator's own API types
// (@kubernetes-models/prometheus-operator: types, enums and required fields; unknown keys are not caught).
import { readFileSync } from "node:fs";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of JSON.parse(readFileSync(file, "utf8"))) {
    if (doc.kind !== "ServiceMonitor") continue;
    checked += 1;
    try {
      new ServiceMonitor(doc).validate();
      console.log(`INFO ${file} passed for resource servicemonitor/${doc.metadata.name} (prometheus-operator v1)`);
    } catch (error) {
      failures += 1;
      console.log(`ERROR ${file} servicemonitor/${doc.metadata.name}: ${error.message}`);
    }
  }
}
if (checked === 0) {
  console.log("ERROR no ServiceMonitor rendered");
  process.exit(1);
}
process.exit(failures ? 1 : 0);
