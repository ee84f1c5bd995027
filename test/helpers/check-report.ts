// The shapes of `weft check --format json` and `weft check --repair --format json` as the tests read them.

export interface FindingView {
  kind: string;
  object: string;
  message?: string;
  details?: Record<string, unknown>;
}

export interface ReportView {
  clean: boolean;
  findings: FindingView[];
}

export interface RepairView {
  before: ReportView;
  repairs: { kind: string; object: string; outcome: string; action: string }[];
  after: ReportView;
}
