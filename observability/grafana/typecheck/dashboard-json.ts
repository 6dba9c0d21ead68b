/**
 * Grafana's published dashboard types, as they look in a dashboard's JSON file.
 *
 * @grafana/schema describes dashboards for TypeScript code, where fields such as a
 * threshold's `mode` are string enums. A JSON file holds their values ("absolute"), which
 * TypeScript does not accept for an enum, so `AsJson` swaps every string enum for the union
 * of its values and leaves everything else, including required fields, as Grafana declares it.
 * tests/observability writes each dashboard as `const d: DashboardJson = <json>` and runs
 * `tsc --strict` over it: unknown keys, missing required fields and bad values fail.
 */
import type { Dashboard, DataQuery, Panel } from '@grafana/schema';
import type * as BarGauge from '@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen';
import type * as Heatmap from '@grafana/schema/dist/esm/raw/composable/heatmap/panelcfg/x/HeatmapPanelCfg_types.gen';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as StateTimeline from '@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen';
import type * as Table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as TimeSeries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

export type AsJson<T> = T extends string
  ? `${T}`
  : T extends number | boolean | bigint | null | undefined
    ? T
    : T extends ReadonlyArray<infer Item>
      ? Array<AsJson<Item>>
      : T extends object
        ? { [K in keyof T]: AsJson<T[K]> }
        : T;

export type DashboardJson = AsJson<Dashboard>;

/** Options and per-field settings of each panel plugin Gale's dashboards use. */
interface PanelPlugins {
  bargauge: { options: BarGauge.Options; custom: Record<string, never> };
  heatmap: { options: Heatmap.Options; custom: Heatmap.FieldConfig };
  stat: { options: Stat.Options; custom: Record<string, never> };
  'state-timeline': { options: StateTimeline.Options; custom: StateTimeline.FieldConfig };
  table: { options: Table.Options; custom: Table.FieldConfig };
  timeseries: { options: TimeSeries.Options; custom: TimeSeries.FieldConfig };
}

export type PanelType = keyof PanelPlugins;

/**
 * A Prometheus query as Grafana stores it in `targets`. @grafana/schema does not publish the
 * Prometheus data source's query type, so this mirrors the fields of Grafana's prometheus
 * `dataquery.cue` that Gale uses, and pins the data source to the dashboard's variable.
 */
export interface PrometheusQuery extends Omit<DataQuery, 'datasource'> {
  datasource: { type: 'prometheus'; uid: '${datasource}' };
  editorMode?: 'code' | 'builder';
  exemplar?: boolean;
  expr: string;
  format?: 'time_series' | 'table' | 'heatmap';
  instant?: boolean;
  interval?: string;
  legendFormat?: string;
  range?: boolean;
}

type FieldConfigJson<Custom> = AsJson<
  Omit<NonNullable<Panel['fieldConfig']>, 'defaults'> & {
    defaults: Omit<NonNullable<Panel['fieldConfig']>['defaults'], 'custom'> & { custom?: Custom };
  }
>;

/** One panel of plugin `T`, its options and field settings checked against that plugin's types. */
export type PanelJson<T extends PanelType> = Omit<
  AsJson<Panel>,
  'type' | 'options' | 'fieldConfig' | 'targets' | 'datasource'
> & {
  datasource: { type: 'prometheus'; uid: '${datasource}' };
  fieldConfig: FieldConfigJson<PanelPlugins[T]['custom']>;
  options: AsJson<PanelPlugins[T]['options']>;
  targets: Array<AsJson<PrometheusQuery>>;
  type: T;
};
