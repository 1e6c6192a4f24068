// Regenerates schemas/workflow.schema.json from the zod schema: `npm run schema`.
import { writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { workflowJsonSchema } from './schema.ts'

export const schemaPath = join(dirname(fileURLToPath(import.meta.url)), '../../schemas/workflow.schema.json')

export function renderJsonSchema(): string {
  return JSON.stringify(workflowJsonSchema(), null, 2) + '\n'
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(dirname(schemaPath), { recursive: true })
  writeFileSync(schemaPath, renderJsonSchema())
  console.log(`wrote ${schemaPath}`)
}
