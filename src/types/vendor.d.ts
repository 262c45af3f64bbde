// Minimal typings for dependencies that ship none. Only what gwgen calls is declared.

declare module 'shacl-engine' {
  import type { DatasetCore, DataFactory } from '@rdfjs/types';
  export class Validator {
    constructor(shapes: DatasetCore, options: { factory: DataFactory; details?: boolean });
    validate(data: { dataset: DatasetCore }): Promise<{ conforms: boolean; results: unknown[] }>;
  }
}

declare module '@rdfjs/data-model' {
  import type { DataFactory } from '@rdfjs/types';
  const factory: DataFactory;
  export default factory;
}
