-- lineage
ALTER TABLE `labis`.`rejects` DELETE WHERE batch = {b:String} SETTINGS mutations_sync = 2;

-- facts:disability
ALTER TABLE `labis`.`facts_disability` DELETE WHERE `_batch` = {b:String} SETTINGS mutations_sync = 2;

-- rollup:disability.by_region_month
DROP TABLE IF EXISTS `labis`.`rollup_disability_by_region_month_a8583de294__rebuild`;

-- rollup:disability.by_region_month
CREATE TABLE `labis`.`rollup_disability_by_region_month_a8583de294__rebuild` AS `labis`.`rollup_disability_by_region_month_a8583de294`;

-- rollup:disability.by_region_month
INSERT INTO `labis`.`rollup_disability_by_region_month_a8583de294__rebuild`
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
EXCHANGE TABLES `labis`.`rollup_disability_by_region_month_a8583de294__rebuild` AND `labis`.`rollup_disability_by_region_month_a8583de294`;

-- rollup:disability.by_region_month
DROP TABLE `labis`.`rollup_disability_by_region_month_a8583de294__rebuild`;

-- dedup
ALTER TABLE `labis`.`rollup_disability_by_region_month_a8583de294` MODIFY SETTING non_replicated_deduplication_window = 1000;

-- facts:disability
ALTER TABLE `labis`.`facts_disability` ADD COLUMN `new_column` Nullable(Int32);

-- mv_rollup_x_0
DROP VIEW IF EXISTS `labis`.`mv_rollup_x_0`;

-- rollup_x_0
DROP TABLE IF EXISTS `labis`.`rollup_x_0`;

-- dict_x_map_0
DROP DICTIONARY IF EXISTS `labis`.`dict_x_map_0`;

-- dim_x_map_0
DROP TABLE IF EXISTS `labis`.`dim_x_map_0`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`identifiers_household`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`persons`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`loads`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rejects`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`facts_disability`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_disability_by_region_month_a8583de294`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_disability_by_municipality_quarter_f62747354a`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`facts_occupational_accidents`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_occupational_accidents_by_region_month_sector_7fb6cdc255`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_occupational_accidents_by_municipality_year_2c9c4d3282`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`facts_pensions`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_pensions_by_region_month_0508668446`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_pensions_by_municipality_quarter_2962d1a92b`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`facts_social_assistance`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_social_assistance_by_region_month_20a15285fe`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_social_assistance_by_municipality_quarter_eabef99c00`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`facts_unemployment`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_unemployment_by_region_quarter_859d367d54`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_unemployment_by_municipality_month_2d7742b8ec`;

-- data
TRUNCATE TABLE IF EXISTS `labis`.`rollup_unemployment_stock_by_day_5ea1ec6822`;

-- backup
BACKUP DATABASE `labis` TO Disk('backups', 'b1');

-- backup
RESTORE DATABASE `labis` FROM File('/srv/backups/b\'1');

-- backup
RESTORE DATABASE `old` AS `labis` FROM File('/b');

