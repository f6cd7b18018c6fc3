-- database
CREATE DATABASE IF NOT EXISTS `labis` ON CLUSTER `labis_cluster`;

-- persons
CREATE TABLE IF NOT EXISTS `labis`.`persons_local` ON CLUSTER `labis_cluster` (
  `person_num` UInt64,
  `pseudonym` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/persons_local', '{replica}')
ORDER BY `person_num`;

-- identifiers:household
CREATE TABLE IF NOT EXISTS `labis`.`identifiers_household_local` ON CLUSTER `labis_cluster` (
  `num` UInt64,
  `pseudonym` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/identifiers_household_local', '{replica}')
ORDER BY `num`;

-- dimension:age_group
CREATE TABLE IF NOT EXISTS `labis`.`dim_age_group_map_cc88fce5b2` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `broad` String,
  `age_group` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_age_group_map_cc88fce5b2', '{replica}')
ORDER BY `fact_key`;

-- dimension:age_group
CREATE TABLE IF NOT EXISTS `labis`.`dim_age_group_labels_cc88fce5b2` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String,
  `attributes` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_age_group_labels_cc88fce5b2', '{replica}')
ORDER BY (`level`, `key`);

-- dimension:age_group
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_age_group_map_cc88fce5b2` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `broad` String,
  `age_group` String
)
PRIMARY KEY `fact_key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_age_group_map_cc88fce5b2'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:age_group
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_age_group_labels_cc88fce5b2` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String
)
PRIMARY KEY `level`, `key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_age_group_labels_cc88fce5b2'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:benefit_type
CREATE TABLE IF NOT EXISTS `labis`.`dim_benefit_type_map_f9e2193e90` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `category` String,
  `benefit_type` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_benefit_type_map_f9e2193e90', '{replica}')
ORDER BY `fact_key`;

-- dimension:benefit_type
CREATE TABLE IF NOT EXISTS `labis`.`dim_benefit_type_labels_f9e2193e90` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String,
  `attributes` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_benefit_type_labels_f9e2193e90', '{replica}')
ORDER BY (`level`, `key`);

-- dimension:benefit_type
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_benefit_type_map_f9e2193e90` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `category` String,
  `benefit_type` String
)
PRIMARY KEY `fact_key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_benefit_type_map_f9e2193e90'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:benefit_type
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_benefit_type_labels_f9e2193e90` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String
)
PRIMARY KEY `level`, `key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_benefit_type_labels_f9e2193e90'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:disability_group
CREATE TABLE IF NOT EXISTS `labis`.`dim_disability_group_map_8bc2ba2ddf` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `disability_group` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_disability_group_map_8bc2ba2ddf', '{replica}')
ORDER BY `fact_key`;

-- dimension:disability_group
CREATE TABLE IF NOT EXISTS `labis`.`dim_disability_group_labels_8bc2ba2ddf` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String,
  `attributes` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_disability_group_labels_8bc2ba2ddf', '{replica}')
ORDER BY (`level`, `key`);

-- dimension:disability_group
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_disability_group_map_8bc2ba2ddf` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `disability_group` String
)
PRIMARY KEY `fact_key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_disability_group_map_8bc2ba2ddf'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:disability_group
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_disability_group_labels_8bc2ba2ddf` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String
)
PRIMARY KEY `level`, `key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_disability_group_labels_8bc2ba2ddf'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:education
CREATE TABLE IF NOT EXISTS `labis`.`dim_education_map_567ca7a4ac` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `level_group` String,
  `isced` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_education_map_567ca7a4ac', '{replica}')
ORDER BY `fact_key`;

-- dimension:education
CREATE TABLE IF NOT EXISTS `labis`.`dim_education_labels_567ca7a4ac` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String,
  `attributes` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_education_labels_567ca7a4ac', '{replica}')
ORDER BY (`level`, `key`);

-- dimension:education
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_education_map_567ca7a4ac` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `level_group` String,
  `isced` String
)
PRIMARY KEY `fact_key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_education_map_567ca7a4ac'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:education
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_education_labels_567ca7a4ac` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String
)
PRIMARY KEY `level`, `key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_education_labels_567ca7a4ac'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:gender
CREATE TABLE IF NOT EXISTS `labis`.`dim_gender_map_a0bc89e44c` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `gender` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_gender_map_a0bc89e44c', '{replica}')
ORDER BY `fact_key`;

-- dimension:gender
CREATE TABLE IF NOT EXISTS `labis`.`dim_gender_labels_a0bc89e44c` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String,
  `attributes` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_gender_labels_a0bc89e44c', '{replica}')
ORDER BY (`level`, `key`);

-- dimension:gender
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_gender_map_a0bc89e44c` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `gender` String
)
PRIMARY KEY `fact_key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_gender_map_a0bc89e44c'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:gender
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_gender_labels_a0bc89e44c` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String
)
PRIMARY KEY `level`, `key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_gender_labels_a0bc89e44c'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:nace_sector
CREATE TABLE IF NOT EXISTS `labis`.`dim_nace_sector_map_4d97902110` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `section` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_nace_sector_map_4d97902110', '{replica}')
ORDER BY `fact_key`;

-- dimension:nace_sector
CREATE TABLE IF NOT EXISTS `labis`.`dim_nace_sector_labels_4d97902110` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String,
  `attributes` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_nace_sector_labels_4d97902110', '{replica}')
ORDER BY (`level`, `key`);

-- dimension:nace_sector
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_nace_sector_map_4d97902110` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `section` String
)
PRIMARY KEY `fact_key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_nace_sector_map_4d97902110'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:nace_sector
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_nace_sector_labels_4d97902110` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String
)
PRIMARY KEY `level`, `key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_nace_sector_labels_4d97902110'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:source_institution
CREATE TABLE IF NOT EXISTS `labis`.`dim_source_institution_map_a242541e6a` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `institution` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_source_institution_map_a242541e6a', '{replica}')
ORDER BY `fact_key`;

-- dimension:source_institution
CREATE TABLE IF NOT EXISTS `labis`.`dim_source_institution_labels_a242541e6a` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String,
  `attributes` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_source_institution_labels_a242541e6a', '{replica}')
ORDER BY (`level`, `key`);

-- dimension:source_institution
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_source_institution_map_a242541e6a` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `institution` String
)
PRIMARY KEY `fact_key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_source_institution_map_a242541e6a'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:source_institution
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_source_institution_labels_a242541e6a` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String
)
PRIMARY KEY `level`, `key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_source_institution_labels_a242541e6a'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- dimension:territory
CREATE TABLE IF NOT EXISTS `labis`.`dim_territory_map_479d6a203b` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `valid_from` Date,
  `valid_to` Date,
  `region` String,
  `municipality` String,
  `kind` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_territory_map_479d6a203b', '{replica}')
ORDER BY `fact_key`;

-- dimension:territory
CREATE TABLE IF NOT EXISTS `labis`.`dim_territory_labels_479d6a203b` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String,
  `attributes` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/labis/dim_territory_labels_479d6a203b', '{replica}')
ORDER BY (`level`, `key`);

-- dimension:territory
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_territory_map_479d6a203b` ON CLUSTER `labis_cluster` (
  `fact_key` String,
  `valid_from` Date,
  `valid_to` Date,
  `region` String,
  `municipality` String,
  `kind` String
)
PRIMARY KEY `fact_key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_territory_map_479d6a203b'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_RANGE_HASHED())
RANGE(MIN `valid_from` MAX `valid_to`);

-- dimension:territory
CREATE DICTIONARY IF NOT EXISTS `labis`.`dict_territory_labels_479d6a203b` ON CLUSTER `labis_cluster` (
  `level` String,
  `key` String,
  `label_lv` String,
  `label_en` String,
  `sort` String
)
PRIMARY KEY `level`, `key`
SOURCE(CLICKHOUSE(DB 'labis' TABLE 'dim_territory_labels_479d6a203b'))
LIFETIME(0)
LAYOUT(COMPLEX_KEY_HASHED());

-- facts:disability
CREATE TABLE IF NOT EXISTS `labis`.`facts_disability_local` ON CLUSTER `labis_cluster` (
  `decision_date` Date,
  `municipality` LowCardinality(String),
  `gender` LowCardinality(String),
  `age_group` LowCardinality(String),
  `disability_group` LowCardinality(String),
  `assessment_type` LowCardinality(String),
  `source` LowCardinality(String),
  `person` UInt64,
  `_batch` LowCardinality(String) DEFAULT ''
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/labis/facts_disability_local', '{replica}')
PARTITION BY toYear(`decision_date`)
ORDER BY (`decision_date`)
SETTINGS non_replicated_deduplication_window = 1000;

-- facts:disability
CREATE TABLE IF NOT EXISTS `labis`.`facts_disability` ON CLUSTER `labis_cluster` AS `labis`.`facts_disability_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `facts_disability_local`, intHash64(`person`));

-- rollup:disability.by_region_month
CREATE TABLE IF NOT EXISTS `labis`.`rollup_disability_by_region_month_a8583de294_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `disability_group` LowCardinality(String),
  `m__assessments` SimpleAggregateFunction(sum, UInt64),
  `m__first_assessments` SimpleAggregateFunction(sum, UInt64),
  `m__repeat_assessments` SimpleAggregateFunction(sum, UInt64),
  `m__persons` AggregateFunction(groupBitmap, UInt64),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_disability_by_region_month_a8583de294_local', '{replica}')
ORDER BY (`territory`, `disability_group`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:disability.by_region_month
CREATE TABLE IF NOT EXISTS `labis`.`rollup_disability_by_region_month_a8583de294` ON CLUSTER `labis_cluster` AS `labis`.`rollup_disability_by_region_month_a8583de294_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_disability_by_region_month_a8583de294_local`, rand());

-- rollup:disability.by_region_month
INSERT INTO `labis`.`rollup_disability_by_region_month_a8583de294` SETTINGS parallel_distributed_insert_select = 2
SELECT
  dictGet('labis.dict_territory_map_479d6a203b', 'region', tuple(`municipality`), toDate(`decision_date`)) AS `territory`,
  toStartOfMonth(`decision_date`) AS `__t`,
  `disability_group` AS `disability_group`,
  count() AS `m__assessments`,
  countIf("assessment_type" = 'first') AS `m__first_assessments`,
  countIf("assessment_type" = 'repeat') AS `m__repeat_assessments`,
  groupBitmapState(toUInt64(`person`)) AS `m__persons`,
  count() AS `__rows`
FROM `labis`.`facts_disability`
GROUP BY `territory`, `__t`, `disability_group`;

-- rollup:disability.by_region_month
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_disability_by_region_month_a8583de294` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_disability_by_region_month_a8583de294_local` AS
SELECT
  dictGet('labis.dict_territory_map_479d6a203b', 'region', tuple(`municipality`), toDate(`decision_date`)) AS `territory`,
  toStartOfMonth(`decision_date`) AS `__t`,
  `disability_group` AS `disability_group`,
  count() AS `m__assessments`,
  countIf("assessment_type" = 'first') AS `m__first_assessments`,
  countIf("assessment_type" = 'repeat') AS `m__repeat_assessments`,
  groupBitmapState(toUInt64(`person`)) AS `m__persons`,
  count() AS `__rows`
FROM `labis`.`facts_disability_local`
GROUP BY `territory`, `__t`, `disability_group`;

-- rollup:disability.by_municipality_quarter
CREATE TABLE IF NOT EXISTS `labis`.`rollup_disability_by_municipality_quarter_f62747354a_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `gender` LowCardinality(String),
  `age_group` LowCardinality(String),
  `disability_group` LowCardinality(String),
  `m__assessments` SimpleAggregateFunction(sum, UInt64),
  `m__first_assessments` SimpleAggregateFunction(sum, UInt64),
  `m__repeat_assessments` SimpleAggregateFunction(sum, UInt64),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_disability_by_municipality_quarter_f62747354a_local', '{replica}')
ORDER BY (`territory`, `gender`, `age_group`, `disability_group`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:disability.by_municipality_quarter
CREATE TABLE IF NOT EXISTS `labis`.`rollup_disability_by_municipality_quarter_f62747354a` ON CLUSTER `labis_cluster` AS `labis`.`rollup_disability_by_municipality_quarter_f62747354a_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_disability_by_municipality_quarter_f62747354a_local`, rand());

-- rollup:disability.by_municipality_quarter
INSERT INTO `labis`.`rollup_disability_by_municipality_quarter_f62747354a` SETTINGS parallel_distributed_insert_select = 2
SELECT
  `municipality` AS `territory`,
  toStartOfQuarter(`decision_date`) AS `__t`,
  `gender` AS `gender`,
  `age_group` AS `age_group`,
  `disability_group` AS `disability_group`,
  count() AS `m__assessments`,
  countIf("assessment_type" = 'first') AS `m__first_assessments`,
  countIf("assessment_type" = 'repeat') AS `m__repeat_assessments`,
  count() AS `__rows`
FROM `labis`.`facts_disability`
GROUP BY `territory`, `__t`, `gender`, `age_group`, `disability_group`;

-- rollup:disability.by_municipality_quarter
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_disability_by_municipality_quarter_f62747354a` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_disability_by_municipality_quarter_f62747354a_local` AS
SELECT
  `municipality` AS `territory`,
  toStartOfQuarter(`decision_date`) AS `__t`,
  `gender` AS `gender`,
  `age_group` AS `age_group`,
  `disability_group` AS `disability_group`,
  count() AS `m__assessments`,
  countIf("assessment_type" = 'first') AS `m__first_assessments`,
  countIf("assessment_type" = 'repeat') AS `m__repeat_assessments`,
  count() AS `__rows`
FROM `labis`.`facts_disability_local`
GROUP BY `territory`, `__t`, `gender`, `age_group`, `disability_group`;

-- facts:occupational_accidents
CREATE TABLE IF NOT EXISTS `labis`.`facts_occupational_accidents_local` ON CLUSTER `labis_cluster` (
  `accident_date` Date,
  `municipality` LowCardinality(String),
  `nace_sector` LowCardinality(String),
  `gender` LowCardinality(String),
  `age_group` LowCardinality(String),
  `severity` LowCardinality(String),
  `source` LowCardinality(String),
  `days_lost` Int32,
  `_batch` LowCardinality(String) DEFAULT ''
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/labis/facts_occupational_accidents_local', '{replica}')
PARTITION BY toYear(`accident_date`)
ORDER BY (`accident_date`)
SETTINGS non_replicated_deduplication_window = 1000;

-- facts:occupational_accidents
CREATE TABLE IF NOT EXISTS `labis`.`facts_occupational_accidents` ON CLUSTER `labis_cluster` AS `labis`.`facts_occupational_accidents_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `facts_occupational_accidents_local`, cityHash64(toString(tuple(`accident_date`, `municipality`, `nace_sector`, `gender`, `age_group`, `severity`, `source`, `days_lost`))));

-- rollup:occupational_accidents.by_region_month_sector
CREATE TABLE IF NOT EXISTS `labis`.`rollup_occupational_accidents_by_region_month_sector_7fb6cdc255_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `nace_sector` LowCardinality(String),
  `m__accidents` SimpleAggregateFunction(sum, UInt64),
  `m__serious_accidents` SimpleAggregateFunction(sum, UInt64),
  `m__fatal_accidents` SimpleAggregateFunction(sum, UInt64),
  `m__days_lost` SimpleAggregateFunction(sum, Int64),
  `m__avg_days_lost__sum` SimpleAggregateFunction(sum, Int64),
  `m__avg_days_lost__n` SimpleAggregateFunction(sum, UInt64),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_occupational_accidents_by_region_month_sector_7fb6cdc255_local', '{replica}')
ORDER BY (`territory`, `nace_sector`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:occupational_accidents.by_region_month_sector
CREATE TABLE IF NOT EXISTS `labis`.`rollup_occupational_accidents_by_region_month_sector_7fb6cdc255` ON CLUSTER `labis_cluster` AS `labis`.`rollup_occupational_accidents_by_region_month_sector_7fb6cdc255_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_occupational_accidents_by_region_month_sector_7fb6cdc255_local`, rand());

-- rollup:occupational_accidents.by_region_month_sector
INSERT INTO `labis`.`rollup_occupational_accidents_by_region_month_sector_7fb6cdc255` SETTINGS parallel_distributed_insert_select = 2
SELECT
  dictGet('labis.dict_territory_map_479d6a203b', 'region', tuple(`municipality`), toDate(`accident_date`)) AS `territory`,
  toStartOfMonth(`accident_date`) AS `__t`,
  `nace_sector` AS `nace_sector`,
  count() AS `m__accidents`,
  countIf("severity" = 'serious') AS `m__serious_accidents`,
  countIf("severity" = 'fatal') AS `m__fatal_accidents`,
  sum(`days_lost`) AS `m__days_lost`,
  sum(`days_lost`) AS `m__avg_days_lost__sum`,
  count(`days_lost`) AS `m__avg_days_lost__n`,
  count() AS `__rows`
FROM `labis`.`facts_occupational_accidents`
GROUP BY `territory`, `__t`, `nace_sector`;

-- rollup:occupational_accidents.by_region_month_sector
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_occupational_accidents_by_region_month_sector_7fb6cdc255` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_occupational_accidents_by_region_month_sector_7fb6cdc255_local` AS
SELECT
  dictGet('labis.dict_territory_map_479d6a203b', 'region', tuple(`municipality`), toDate(`accident_date`)) AS `territory`,
  toStartOfMonth(`accident_date`) AS `__t`,
  `nace_sector` AS `nace_sector`,
  count() AS `m__accidents`,
  countIf("severity" = 'serious') AS `m__serious_accidents`,
  countIf("severity" = 'fatal') AS `m__fatal_accidents`,
  sum(`days_lost`) AS `m__days_lost`,
  sum(`days_lost`) AS `m__avg_days_lost__sum`,
  count(`days_lost`) AS `m__avg_days_lost__n`,
  count() AS `__rows`
FROM `labis`.`facts_occupational_accidents_local`
GROUP BY `territory`, `__t`, `nace_sector`;

-- rollup:occupational_accidents.by_municipality_year
CREATE TABLE IF NOT EXISTS `labis`.`rollup_occupational_accidents_by_municipality_year_2c9c4d3282_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `gender` LowCardinality(String),
  `age_group` LowCardinality(String),
  `m__accidents` SimpleAggregateFunction(sum, UInt64),
  `m__serious_accidents` SimpleAggregateFunction(sum, UInt64),
  `m__fatal_accidents` SimpleAggregateFunction(sum, UInt64),
  `m__days_lost` SimpleAggregateFunction(sum, Int64),
  `m__avg_days_lost__sum` SimpleAggregateFunction(sum, Int64),
  `m__avg_days_lost__n` SimpleAggregateFunction(sum, UInt64),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_occupational_accidents_by_municipality_year_2c9c4d3282_local', '{replica}')
ORDER BY (`territory`, `gender`, `age_group`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:occupational_accidents.by_municipality_year
CREATE TABLE IF NOT EXISTS `labis`.`rollup_occupational_accidents_by_municipality_year_2c9c4d3282` ON CLUSTER `labis_cluster` AS `labis`.`rollup_occupational_accidents_by_municipality_year_2c9c4d3282_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_occupational_accidents_by_municipality_year_2c9c4d3282_local`, rand());

-- rollup:occupational_accidents.by_municipality_year
INSERT INTO `labis`.`rollup_occupational_accidents_by_municipality_year_2c9c4d3282` SETTINGS parallel_distributed_insert_select = 2
SELECT
  `municipality` AS `territory`,
  toStartOfYear(`accident_date`) AS `__t`,
  `gender` AS `gender`,
  `age_group` AS `age_group`,
  count() AS `m__accidents`,
  countIf("severity" = 'serious') AS `m__serious_accidents`,
  countIf("severity" = 'fatal') AS `m__fatal_accidents`,
  sum(`days_lost`) AS `m__days_lost`,
  sum(`days_lost`) AS `m__avg_days_lost__sum`,
  count(`days_lost`) AS `m__avg_days_lost__n`,
  count() AS `__rows`
FROM `labis`.`facts_occupational_accidents`
GROUP BY `territory`, `__t`, `gender`, `age_group`;

-- rollup:occupational_accidents.by_municipality_year
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_occupational_accidents_by_municipality_year_2c9c4d3282` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_occupational_accidents_by_municipality_year_2c9c4d3282_local` AS
SELECT
  `municipality` AS `territory`,
  toStartOfYear(`accident_date`) AS `__t`,
  `gender` AS `gender`,
  `age_group` AS `age_group`,
  count() AS `m__accidents`,
  countIf("severity" = 'serious') AS `m__serious_accidents`,
  countIf("severity" = 'fatal') AS `m__fatal_accidents`,
  sum(`days_lost`) AS `m__days_lost`,
  sum(`days_lost`) AS `m__avg_days_lost__sum`,
  count(`days_lost`) AS `m__avg_days_lost__n`,
  count() AS `__rows`
FROM `labis`.`facts_occupational_accidents_local`
GROUP BY `territory`, `__t`, `gender`, `age_group`;

-- facts:pensions
CREATE TABLE IF NOT EXISTS `labis`.`facts_pensions_local` ON CLUSTER `labis_cluster` (
  `payment_month` Date,
  `municipality` LowCardinality(String),
  `benefit_type` LowCardinality(String),
  `gender` LowCardinality(String),
  `age_group` LowCardinality(String),
  `source` LowCardinality(String),
  `person` UInt64,
  `amount` Decimal(18, 2),
  `_batch` LowCardinality(String) DEFAULT ''
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/labis/facts_pensions_local', '{replica}')
PARTITION BY toYear(`payment_month`)
ORDER BY (`payment_month`)
SETTINGS non_replicated_deduplication_window = 1000;

-- facts:pensions
CREATE TABLE IF NOT EXISTS `labis`.`facts_pensions` ON CLUSTER `labis_cluster` AS `labis`.`facts_pensions_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `facts_pensions_local`, intHash64(`person`));

-- rollup:pensions.by_region_month
CREATE TABLE IF NOT EXISTS `labis`.`rollup_pensions_by_region_month_0508668446_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `benefit_type` LowCardinality(String),
  `m__amount` SimpleAggregateFunction(sum, Decimal(38, 2)),
  `m__payments` SimpleAggregateFunction(sum, UInt64),
  `m__pensioners` AggregateFunction(groupBitmap, UInt64),
  `m__avg_pension__sum` SimpleAggregateFunction(sum, Decimal(38, 2)),
  `m__avg_pension__n` SimpleAggregateFunction(sum, UInt64),
  `m__min_pension` SimpleAggregateFunction(min, Nullable(Decimal(18, 2))),
  `m__max_pension` SimpleAggregateFunction(max, Nullable(Decimal(18, 2))),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_pensions_by_region_month_0508668446_local', '{replica}')
ORDER BY (`territory`, `benefit_type`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:pensions.by_region_month
CREATE TABLE IF NOT EXISTS `labis`.`rollup_pensions_by_region_month_0508668446` ON CLUSTER `labis_cluster` AS `labis`.`rollup_pensions_by_region_month_0508668446_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_pensions_by_region_month_0508668446_local`, rand());

-- rollup:pensions.by_region_month
INSERT INTO `labis`.`rollup_pensions_by_region_month_0508668446` SETTINGS parallel_distributed_insert_select = 2
SELECT
  dictGet('labis.dict_territory_map_479d6a203b', 'region', tuple(`municipality`), toDate(`payment_month`)) AS `territory`,
  toStartOfMonth(`payment_month`) AS `__t`,
  `benefit_type` AS `benefit_type`,
  sum(`amount`) AS `m__amount`,
  count() AS `m__payments`,
  groupBitmapState(toUInt64(`person`)) AS `m__pensioners`,
  sum(`amount`) AS `m__avg_pension__sum`,
  count(`amount`) AS `m__avg_pension__n`,
  minOrNull(`amount`) AS `m__min_pension`,
  maxOrNull(`amount`) AS `m__max_pension`,
  count() AS `__rows`
FROM `labis`.`facts_pensions`
GROUP BY `territory`, `__t`, `benefit_type`;

-- rollup:pensions.by_region_month
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_pensions_by_region_month_0508668446` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_pensions_by_region_month_0508668446_local` AS
SELECT
  dictGet('labis.dict_territory_map_479d6a203b', 'region', tuple(`municipality`), toDate(`payment_month`)) AS `territory`,
  toStartOfMonth(`payment_month`) AS `__t`,
  `benefit_type` AS `benefit_type`,
  sum(`amount`) AS `m__amount`,
  count() AS `m__payments`,
  groupBitmapState(toUInt64(`person`)) AS `m__pensioners`,
  sum(`amount`) AS `m__avg_pension__sum`,
  count(`amount`) AS `m__avg_pension__n`,
  minOrNull(`amount`) AS `m__min_pension`,
  maxOrNull(`amount`) AS `m__max_pension`,
  count() AS `__rows`
FROM `labis`.`facts_pensions_local`
GROUP BY `territory`, `__t`, `benefit_type`;

-- rollup:pensions.by_municipality_quarter
CREATE TABLE IF NOT EXISTS `labis`.`rollup_pensions_by_municipality_quarter_2962d1a92b_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `benefit_type` LowCardinality(String),
  `gender` LowCardinality(String),
  `age_group` LowCardinality(String),
  `m__amount` SimpleAggregateFunction(sum, Decimal(38, 2)),
  `m__payments` SimpleAggregateFunction(sum, UInt64),
  `m__avg_pension__sum` SimpleAggregateFunction(sum, Decimal(38, 2)),
  `m__avg_pension__n` SimpleAggregateFunction(sum, UInt64),
  `m__min_pension` SimpleAggregateFunction(min, Nullable(Decimal(18, 2))),
  `m__max_pension` SimpleAggregateFunction(max, Nullable(Decimal(18, 2))),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_pensions_by_municipality_quarter_2962d1a92b_local', '{replica}')
ORDER BY (`territory`, `benefit_type`, `gender`, `age_group`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:pensions.by_municipality_quarter
CREATE TABLE IF NOT EXISTS `labis`.`rollup_pensions_by_municipality_quarter_2962d1a92b` ON CLUSTER `labis_cluster` AS `labis`.`rollup_pensions_by_municipality_quarter_2962d1a92b_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_pensions_by_municipality_quarter_2962d1a92b_local`, rand());

-- rollup:pensions.by_municipality_quarter
INSERT INTO `labis`.`rollup_pensions_by_municipality_quarter_2962d1a92b` SETTINGS parallel_distributed_insert_select = 2
SELECT
  `municipality` AS `territory`,
  toStartOfQuarter(`payment_month`) AS `__t`,
  `benefit_type` AS `benefit_type`,
  `gender` AS `gender`,
  `age_group` AS `age_group`,
  sum(`amount`) AS `m__amount`,
  count() AS `m__payments`,
  sum(`amount`) AS `m__avg_pension__sum`,
  count(`amount`) AS `m__avg_pension__n`,
  minOrNull(`amount`) AS `m__min_pension`,
  maxOrNull(`amount`) AS `m__max_pension`,
  count() AS `__rows`
FROM `labis`.`facts_pensions`
GROUP BY `territory`, `__t`, `benefit_type`, `gender`, `age_group`;

-- rollup:pensions.by_municipality_quarter
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_pensions_by_municipality_quarter_2962d1a92b` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_pensions_by_municipality_quarter_2962d1a92b_local` AS
SELECT
  `municipality` AS `territory`,
  toStartOfQuarter(`payment_month`) AS `__t`,
  `benefit_type` AS `benefit_type`,
  `gender` AS `gender`,
  `age_group` AS `age_group`,
  sum(`amount`) AS `m__amount`,
  count() AS `m__payments`,
  sum(`amount`) AS `m__avg_pension__sum`,
  count(`amount`) AS `m__avg_pension__n`,
  minOrNull(`amount`) AS `m__min_pension`,
  maxOrNull(`amount`) AS `m__max_pension`,
  count() AS `__rows`
FROM `labis`.`facts_pensions_local`
GROUP BY `territory`, `__t`, `benefit_type`, `gender`, `age_group`;

-- facts:social_assistance
CREATE TABLE IF NOT EXISTS `labis`.`facts_social_assistance_local` ON CLUSTER `labis_cluster` (
  `payment_date` Date,
  `municipality` LowCardinality(String),
  `benefit_type` LowCardinality(String),
  `gender` LowCardinality(String),
  `age_group` LowCardinality(String),
  `source` LowCardinality(String),
  `person` UInt64,
  `household` UInt64,
  `amount` Decimal(18, 2),
  `_batch` LowCardinality(String) DEFAULT ''
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/labis/facts_social_assistance_local', '{replica}')
PARTITION BY toYear(`payment_date`)
ORDER BY (`payment_date`)
SETTINGS non_replicated_deduplication_window = 1000;

-- facts:social_assistance
CREATE TABLE IF NOT EXISTS `labis`.`facts_social_assistance` ON CLUSTER `labis_cluster` AS `labis`.`facts_social_assistance_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `facts_social_assistance_local`, intHash64(`person`));

-- rollup:social_assistance.by_region_month
CREATE TABLE IF NOT EXISTS `labis`.`rollup_social_assistance_by_region_month_20a15285fe_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `benefit_type` LowCardinality(String),
  `m__amount` SimpleAggregateFunction(sum, Decimal(38, 2)),
  `m__payments` SimpleAggregateFunction(sum, UInt64),
  `m__recipients` AggregateFunction(groupBitmap, UInt64),
  `m__households` AggregateFunction(groupBitmap, UInt64),
  `m__gmi_recipients` AggregateFunction(groupBitmapIf, UInt64, UInt8),
  `m__gmi_amount` SimpleAggregateFunction(sum, Decimal(38, 2)),
  `m__avg_payment__sum` SimpleAggregateFunction(sum, Decimal(38, 2)),
  `m__avg_payment__n` SimpleAggregateFunction(sum, UInt64),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_social_assistance_by_region_month_20a15285fe_local', '{replica}')
ORDER BY (`territory`, `benefit_type`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:social_assistance.by_region_month
CREATE TABLE IF NOT EXISTS `labis`.`rollup_social_assistance_by_region_month_20a15285fe` ON CLUSTER `labis_cluster` AS `labis`.`rollup_social_assistance_by_region_month_20a15285fe_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_social_assistance_by_region_month_20a15285fe_local`, rand());

-- rollup:social_assistance.by_region_month
INSERT INTO `labis`.`rollup_social_assistance_by_region_month_20a15285fe` SETTINGS parallel_distributed_insert_select = 2
SELECT
  dictGet('labis.dict_territory_map_479d6a203b', 'region', tuple(`municipality`), toDate(`payment_date`)) AS `territory`,
  toStartOfMonth(`payment_date`) AS `__t`,
  `benefit_type` AS `benefit_type`,
  sum(`amount`) AS `m__amount`,
  count() AS `m__payments`,
  groupBitmapState(toUInt64(`person`)) AS `m__recipients`,
  groupBitmapState(toUInt64(`household`)) AS `m__households`,
  groupBitmapIfState(toUInt64(`person`), "benefit_type" = 'gmi') AS `m__gmi_recipients`,
  sumIf(`amount`, "benefit_type" = 'gmi') AS `m__gmi_amount`,
  sum(`amount`) AS `m__avg_payment__sum`,
  count(`amount`) AS `m__avg_payment__n`,
  count() AS `__rows`
FROM `labis`.`facts_social_assistance`
GROUP BY `territory`, `__t`, `benefit_type`;

-- rollup:social_assistance.by_region_month
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_social_assistance_by_region_month_20a15285fe` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_social_assistance_by_region_month_20a15285fe_local` AS
SELECT
  dictGet('labis.dict_territory_map_479d6a203b', 'region', tuple(`municipality`), toDate(`payment_date`)) AS `territory`,
  toStartOfMonth(`payment_date`) AS `__t`,
  `benefit_type` AS `benefit_type`,
  sum(`amount`) AS `m__amount`,
  count() AS `m__payments`,
  groupBitmapState(toUInt64(`person`)) AS `m__recipients`,
  groupBitmapState(toUInt64(`household`)) AS `m__households`,
  groupBitmapIfState(toUInt64(`person`), "benefit_type" = 'gmi') AS `m__gmi_recipients`,
  sumIf(`amount`, "benefit_type" = 'gmi') AS `m__gmi_amount`,
  sum(`amount`) AS `m__avg_payment__sum`,
  count(`amount`) AS `m__avg_payment__n`,
  count() AS `__rows`
FROM `labis`.`facts_social_assistance_local`
GROUP BY `territory`, `__t`, `benefit_type`;

-- rollup:social_assistance.by_municipality_quarter
CREATE TABLE IF NOT EXISTS `labis`.`rollup_social_assistance_by_municipality_quarter_eabef99c00_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `benefit_type` LowCardinality(String),
  `gender` LowCardinality(String),
  `m__amount` SimpleAggregateFunction(sum, Decimal(38, 2)),
  `m__payments` SimpleAggregateFunction(sum, UInt64),
  `m__gmi_amount` SimpleAggregateFunction(sum, Decimal(38, 2)),
  `m__avg_payment__sum` SimpleAggregateFunction(sum, Decimal(38, 2)),
  `m__avg_payment__n` SimpleAggregateFunction(sum, UInt64),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_social_assistance_by_municipality_quarter_eabef99c00_local', '{replica}')
ORDER BY (`territory`, `benefit_type`, `gender`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:social_assistance.by_municipality_quarter
CREATE TABLE IF NOT EXISTS `labis`.`rollup_social_assistance_by_municipality_quarter_eabef99c00` ON CLUSTER `labis_cluster` AS `labis`.`rollup_social_assistance_by_municipality_quarter_eabef99c00_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_social_assistance_by_municipality_quarter_eabef99c00_local`, rand());

-- rollup:social_assistance.by_municipality_quarter
INSERT INTO `labis`.`rollup_social_assistance_by_municipality_quarter_eabef99c00` SETTINGS parallel_distributed_insert_select = 2
SELECT
  `municipality` AS `territory`,
  toStartOfQuarter(`payment_date`) AS `__t`,
  `benefit_type` AS `benefit_type`,
  `gender` AS `gender`,
  sum(`amount`) AS `m__amount`,
  count() AS `m__payments`,
  sumIf(`amount`, "benefit_type" = 'gmi') AS `m__gmi_amount`,
  sum(`amount`) AS `m__avg_payment__sum`,
  count(`amount`) AS `m__avg_payment__n`,
  count() AS `__rows`
FROM `labis`.`facts_social_assistance`
GROUP BY `territory`, `__t`, `benefit_type`, `gender`;

-- rollup:social_assistance.by_municipality_quarter
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_social_assistance_by_municipality_quarter_eabef99c00` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_social_assistance_by_municipality_quarter_eabef99c00_local` AS
SELECT
  `municipality` AS `territory`,
  toStartOfQuarter(`payment_date`) AS `__t`,
  `benefit_type` AS `benefit_type`,
  `gender` AS `gender`,
  sum(`amount`) AS `m__amount`,
  count() AS `m__payments`,
  sumIf(`amount`, "benefit_type" = 'gmi') AS `m__gmi_amount`,
  sum(`amount`) AS `m__avg_payment__sum`,
  count(`amount`) AS `m__avg_payment__n`,
  count() AS `__rows`
FROM `labis`.`facts_social_assistance_local`
GROUP BY `territory`, `__t`, `benefit_type`, `gender`;

-- facts:unemployment
CREATE TABLE IF NOT EXISTS `labis`.`facts_unemployment_local` ON CLUSTER `labis_cluster` (
  `snapshot_date` Date,
  `municipality` LowCardinality(String),
  `gender` LowCardinality(String),
  `age_group` LowCardinality(String),
  `education` LowCardinality(String),
  `source` LowCardinality(String),
  `person` UInt64,
  `registered` Int32,
  `new_registration` Int32,
  `duration_months` Int32,
  `_batch` LowCardinality(String) DEFAULT ''
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/labis/facts_unemployment_local', '{replica}')
PARTITION BY toYear(`snapshot_date`)
ORDER BY (`snapshot_date`)
SETTINGS non_replicated_deduplication_window = 1000;

-- facts:unemployment
CREATE TABLE IF NOT EXISTS `labis`.`facts_unemployment` ON CLUSTER `labis_cluster` AS `labis`.`facts_unemployment_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `facts_unemployment_local`, intHash64(`person`));

-- rollup:unemployment.by_region_quarter
CREATE TABLE IF NOT EXISTS `labis`.`rollup_unemployment_by_region_quarter_859d367d54_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `m__new_registrations` SimpleAggregateFunction(sum, Int64),
  `m__persons` AggregateFunction(groupBitmap, UInt64),
  `m__avg_duration__sum` SimpleAggregateFunction(sum, Int64),
  `m__avg_duration__n` SimpleAggregateFunction(sum, UInt64),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_unemployment_by_region_quarter_859d367d54_local', '{replica}')
ORDER BY (`territory`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:unemployment.by_region_quarter
CREATE TABLE IF NOT EXISTS `labis`.`rollup_unemployment_by_region_quarter_859d367d54` ON CLUSTER `labis_cluster` AS `labis`.`rollup_unemployment_by_region_quarter_859d367d54_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_unemployment_by_region_quarter_859d367d54_local`, rand());

-- rollup:unemployment.by_region_quarter
INSERT INTO `labis`.`rollup_unemployment_by_region_quarter_859d367d54` SETTINGS parallel_distributed_insert_select = 2
SELECT
  dictGet('labis.dict_territory_map_479d6a203b', 'region', tuple(`municipality`), toDate(`snapshot_date`)) AS `territory`,
  toStartOfQuarter(`snapshot_date`) AS `__t`,
  sum(`new_registration`) AS `m__new_registrations`,
  groupBitmapState(toUInt64(`person`)) AS `m__persons`,
  sum(`duration_months`) AS `m__avg_duration__sum`,
  count(`duration_months`) AS `m__avg_duration__n`,
  count() AS `__rows`
FROM `labis`.`facts_unemployment`
GROUP BY `territory`, `__t`;

-- rollup:unemployment.by_region_quarter
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_unemployment_by_region_quarter_859d367d54` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_unemployment_by_region_quarter_859d367d54_local` AS
SELECT
  dictGet('labis.dict_territory_map_479d6a203b', 'region', tuple(`municipality`), toDate(`snapshot_date`)) AS `territory`,
  toStartOfQuarter(`snapshot_date`) AS `__t`,
  sum(`new_registration`) AS `m__new_registrations`,
  groupBitmapState(toUInt64(`person`)) AS `m__persons`,
  sum(`duration_months`) AS `m__avg_duration__sum`,
  count(`duration_months`) AS `m__avg_duration__n`,
  count() AS `__rows`
FROM `labis`.`facts_unemployment_local`
GROUP BY `territory`, `__t`;

-- rollup:unemployment.by_municipality_month
CREATE TABLE IF NOT EXISTS `labis`.`rollup_unemployment_by_municipality_month_2d7742b8ec_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `gender` LowCardinality(String),
  `age_group` LowCardinality(String),
  `education` LowCardinality(String),
  `m__new_registrations` SimpleAggregateFunction(sum, Int64),
  `m__avg_duration__sum` SimpleAggregateFunction(sum, Int64),
  `m__avg_duration__n` SimpleAggregateFunction(sum, UInt64),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_unemployment_by_municipality_month_2d7742b8ec_local', '{replica}')
ORDER BY (`territory`, `gender`, `age_group`, `education`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:unemployment.by_municipality_month
CREATE TABLE IF NOT EXISTS `labis`.`rollup_unemployment_by_municipality_month_2d7742b8ec` ON CLUSTER `labis_cluster` AS `labis`.`rollup_unemployment_by_municipality_month_2d7742b8ec_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_unemployment_by_municipality_month_2d7742b8ec_local`, rand());

-- rollup:unemployment.by_municipality_month
INSERT INTO `labis`.`rollup_unemployment_by_municipality_month_2d7742b8ec` SETTINGS parallel_distributed_insert_select = 2
SELECT
  `municipality` AS `territory`,
  toStartOfMonth(`snapshot_date`) AS `__t`,
  `gender` AS `gender`,
  `age_group` AS `age_group`,
  `education` AS `education`,
  sum(`new_registration`) AS `m__new_registrations`,
  sum(`duration_months`) AS `m__avg_duration__sum`,
  count(`duration_months`) AS `m__avg_duration__n`,
  count() AS `__rows`
FROM `labis`.`facts_unemployment`
GROUP BY `territory`, `__t`, `gender`, `age_group`, `education`;

-- rollup:unemployment.by_municipality_month
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_unemployment_by_municipality_month_2d7742b8ec` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_unemployment_by_municipality_month_2d7742b8ec_local` AS
SELECT
  `municipality` AS `territory`,
  toStartOfMonth(`snapshot_date`) AS `__t`,
  `gender` AS `gender`,
  `age_group` AS `age_group`,
  `education` AS `education`,
  sum(`new_registration`) AS `m__new_registrations`,
  sum(`duration_months`) AS `m__avg_duration__sum`,
  count(`duration_months`) AS `m__avg_duration__n`,
  count() AS `__rows`
FROM `labis`.`facts_unemployment_local`
GROUP BY `territory`, `__t`, `gender`, `age_group`, `education`;

-- rollup:unemployment.stock_by_day
CREATE TABLE IF NOT EXISTS `labis`.`rollup_unemployment_stock_by_day_5ea1ec6822_local` ON CLUSTER `labis_cluster` (
  `territory` LowCardinality(String),
  `__t` Date,
  `gender` LowCardinality(String),
  `m__registered_unemployed` SimpleAggregateFunction(sum, Int64),
  `m__long_term_unemployed` SimpleAggregateFunction(sum, Int64),
  `__rows` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_unemployment_stock_by_day_5ea1ec6822_local', '{replica}')
ORDER BY (`territory`, `gender`, `__t`)
SETTINGS non_replicated_deduplication_window = 1000;

-- rollup:unemployment.stock_by_day
CREATE TABLE IF NOT EXISTS `labis`.`rollup_unemployment_stock_by_day_5ea1ec6822` ON CLUSTER `labis_cluster` AS `labis`.`rollup_unemployment_stock_by_day_5ea1ec6822_local`
ENGINE = Distributed(`labis_cluster`, `labis`, `rollup_unemployment_stock_by_day_5ea1ec6822_local`, rand());

-- rollup:unemployment.stock_by_day
INSERT INTO `labis`.`rollup_unemployment_stock_by_day_5ea1ec6822` SETTINGS parallel_distributed_insert_select = 2
SELECT
  `municipality` AS `territory`,
  toDate(`snapshot_date`) AS `__t`,
  `gender` AS `gender`,
  sum(`registered`) AS `m__registered_unemployed`,
  sumIf(`registered`, "duration_months" >= 12) AS `m__long_term_unemployed`,
  count() AS `__rows`
FROM `labis`.`facts_unemployment`
GROUP BY `territory`, `__t`, `gender`;

-- rollup:unemployment.stock_by_day
CREATE MATERIALIZED VIEW IF NOT EXISTS `labis`.`mv_rollup_unemployment_stock_by_day_5ea1ec6822` ON CLUSTER `labis_cluster`
TO `labis`.`rollup_unemployment_stock_by_day_5ea1ec6822_local` AS
SELECT
  `municipality` AS `territory`,
  toDate(`snapshot_date`) AS `__t`,
  `gender` AS `gender`,
  sum(`registered`) AS `m__registered_unemployed`,
  sumIf(`registered`, "duration_months" >= 12) AS `m__long_term_unemployed`,
  count() AS `__rows`
FROM `labis`.`facts_unemployment_local`
GROUP BY `territory`, `__t`, `gender`;

