-- lineage
CREATE TABLE IF NOT EXISTS `labis`.`loads` (
  `event_time` DateTime64(6, 'UTC'),
  `batch` String,
  `source` LowCardinality(String),
  `cube` LowCardinality(String),
  `file_name` String,
  `file_sha256` String,
  `file_bytes` UInt64,
  `rows_read` UInt64,
  `rows_accepted` UInt64,
  `rows_rejected` UInt64,
  `started` DateTime64(3, 'UTC'),
  `finished` Nullable(DateTime64(3, 'UTC')),
  `status` LowCardinality(String),
  `model_version` String,
  `key_id` String,
  `message` String
)
ENGINE = MergeTree
ORDER BY (`batch`, `event_time`);

-- lineage
CREATE TABLE IF NOT EXISTS `labis`.`rejects` (
  `batch` String,
  `source` LowCardinality(String),
  `row` UInt64,
  `column` LowCardinality(String),
  `fact_column` LowCardinality(String),
  `value` String,
  `reason` LowCardinality(String)
)
ENGINE = MergeTree
ORDER BY (`batch`, `row`);

-- lineage
CREATE TABLE IF NOT EXISTS `labis`.`source_state` (
  `event_time` DateTime64(6, 'UTC'),
  `source` LowCardinality(String),
  `batch` String,
  `watermark_type` String,
  `low` Nullable(String),
  `high` Nullable(String),
  `kinds` String
)
ENGINE = MergeTree
ORDER BY (`source`, `event_time`);

-- lineage
CREATE TABLE IF NOT EXISTS `labis`.`member_rows` (
  `dimension` LowCardinality(String),
  `batch` String,
  `row` String,
  `valid_from` Date,
  `valid_to` Date
)
ENGINE = MergeTree
ORDER BY (`dimension`, `batch`);

-- persons
CREATE TABLE IF NOT EXISTS `labis`.`persons` (
  `person_num` UInt64,
  `pseudonym` String
)
ENGINE = MergeTree()
ORDER BY `person_num`;

-- stage:0123456789abcdef
DROP TABLE IF EXISTS `labis`.`_load_stage_0123456789abcdef`;

-- stage:0123456789abcdef
DROP TABLE IF EXISTS `labis`.`_load_codes_0123456789abcdef`;

-- stage:0123456789abcdef
DROP TABLE IF EXISTS `labis`.`_load_persons_0123456789abcdef`;

-- stage:0123456789abcdef
CREATE TABLE `labis`.`_load_stage_0123456789abcdef` (
  `decision_date` Date,
  `municipality` LowCardinality(String),
  `gender` LowCardinality(String),
  `age_group` LowCardinality(String),
  `disability_group` LowCardinality(String),
  `assessment_type` LowCardinality(String),
  `source` LowCardinality(String),
  `person__key` UInt64,
  `_row` UInt64
)
ENGINE = MergeTree
ORDER BY `_row`;

-- stage:0123456789abcdef
CREATE TABLE `labis`.`_load_codes_0123456789abcdef` (`key` UInt64, `ns` LowCardinality(String),
  `pseudonym` String, `h` UInt64 DEFAULT cityHash64(`pseudonym`))
ENGINE = MergeTree ORDER BY (`ns`, `h`);

-- stage:0123456789abcdef
DROP TABLE IF EXISTS `labis`.`_load_persons_0123456789abcdef`;

-- stage:0123456789abcdef
CREATE TABLE `labis`.`_load_persons_0123456789abcdef` (`key` UInt64, `num` UInt64)
ENGINE = Join(ANY, LEFT, `key`) SETTINGS persistent = 0;

-- backup
CREATE TABLE IF NOT EXISTS `labis`.`backup_totals` (
  `backup` String,
  `taken` DateTime64(3, 'UTC'),
  `table` String,
  `total` String,
  `value` String
)
ENGINE = MergeTree
ORDER BY (`backup`, `table`, `total`);

