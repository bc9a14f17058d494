/* What the differ and the audit's repair produce and the generator writes into a migration file. */
import type { Operation } from './types';

/** An operation with the sentence a reader of the generated file needs above it. */
export interface PlannedStep {
  operation: Operation;
  comment?: string;
  /** Written commented out: a destructive step the author opts into by uncommenting it. */
  disabled?: boolean;
  /** The validator reduced to what both versions share, set before data is rewritten. */
  interim?: boolean;
}

/** A migration before it is written to a file: its steps both ways and notes for the reader. */
export interface MigrationPlan {
  up: PlannedStep[];
  down: PlannedStep[];
  /** Changes that produce no operation but deserve a line in the file (a removed model, say). */
  notes: string[];
}
