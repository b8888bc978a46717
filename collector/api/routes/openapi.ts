import { readFileSync } from 'node:fs';
import { Router } from 'express';
import { parse } from 'yaml';
import { collectorAsset } from '../../assets.ts';

const text = readFileSync(collectorAsset('api/openapi.yaml'), 'utf8');
export const openApiDocument = parse(text) as { paths: Record<string, Record<string, unknown>> };

export function openApiRouter(): Router {
  return Router()
    .get('/api/openapi.yaml', (_req, res) => {
      res.type('application/yaml').send(text);
    })
    .get('/api/openapi.json', (_req, res) => {
      res.json(openApiDocument);
    });
}
