-- The floor: the weekly and monthly scoreboards of shared/spec/scoreboard.md in one
-- DuckDB script, straight from the landing CSVs of bench/data.py.
--
-- $$-style placeholders (landing, registry, ...) are filled by bench/run.py (string.Template):
--   landing   folder of the exports (read as <landing>/**/*.csv)
--   registry  unit registry CSV (config/registry/hanoi.csv)
--   calendar  CSV date,working_days_before written from transforms.calendar
--   now       the pinned SCOREBOARD_NOW, 'YYYY-MM-DD HH:MM:SS'
--   out       the Parquet file to write
--   points, earned, min_volume, band, points_columns, max_points_columns: the
--             scoring profile's groups, weights and bands, as SQL (bench/floor.py)
--
-- What it does not do (the pipeline does): header aliases and other layouts
-- (the headers here are fixed), quarantine reasons (every generated row is valid),
-- unit resolution by name (by code only), procedure-catalogue due dates, weak
-- points, bottlenecks, what-if, the site. Counts are additive, so they are
-- aggregated per unit first and then rolled up to the parent district.

SET preserve_insertion_order = false;

CREATE TEMP TABLE units AS
SELECT unit_code, unit_name, level, nullif(parent_code, '') AS parent_code, peer_group,
       CAST(valid_from AS DATE) AS valid_from, CAST(nullif(valid_to, '') AS DATE) AS valid_to
FROM read_csv('${registry}', header = true, all_varchar = true);

CREATE TEMP TABLE cal AS
SELECT CAST(date AS DATE) AS d, CAST(working_days_before AS BIGINT) AS wdb
FROM read_csv('${calendar}', header = true, all_varchar = true);

-- 1. read: explicit types and formats, no sniffing
CREATE TEMP TABLE raw AS
SELECT *
FROM read_csv('${landing}/**/*.csv',
    header = true, delim = ',', quote = '"', escape = '"', filename = true,
    timestampformat = '%d/%m/%Y %H:%M', dateformat = '%d/%m/%Y',
    columns = {
        'STT': 'BIGINT', 'Mã hồ sơ': 'VARCHAR', 'Mã đơn vị': 'VARCHAR',
        'Đơn vị tiếp nhận': 'VARCHAR', 'Mã TTHC': 'VARCHAR', 'Tên TTHC': 'VARCHAR',
        'Chủ hồ sơ': 'VARCHAR', 'Hình thức nộp': 'VARCHAR', 'Trạng thái': 'VARCHAR',
        'Ngày nộp': 'TIMESTAMP', 'Ngày tiếp nhận': 'TIMESTAMP', 'Ngày hẹn trả': 'DATE',
        'Ngày kết thúc xử lý': 'TIMESTAMP', 'Ngày trả kết quả': 'TIMESTAMP',
        'Ngày từ chối': 'TIMESTAMP', 'Số lần bổ sung': 'INTEGER', 'Có phí': 'VARCHAR',
        'Thanh toán trực tuyến': 'VARCHAR', 'Số hóa': 'VARCHAR', 'Kết quả điện tử': 'VARCHAR',
        'Đồng bộ DVCQG': 'VARCHAR', 'Phiếu xin lỗi': 'VARCHAR', 'Mức độ hài lòng': 'VARCHAR',
        'Phản ánh': 'VARCHAR'
    });

-- 2. type, then keep one copy per dossier: the latest event, then the higher
--    status, then the file whose base name sorts last, its path, the later row
CREATE TEMP TABLE dossiers AS
WITH typed AS (
    SELECT
        "Mã hồ sơ" AS dossier_id,
        "Mã đơn vị" AS unit_code,
        "Mã TTHC" AS procedure_code,
        CASE "Hình thức nộp" WHEN 'Trực tiếp' THEN 1 WHEN 'Trực tuyến' THEN 2
             WHEN 'Bưu chính công ích' THEN 3 END AS channel,
        CASE "Trạng thái" WHEN 'Mới đăng ký' THEN 1 WHEN 'Được tiếp nhận' THEN 2
             WHEN 'Không được tiếp nhận' THEN 3 WHEN 'Đang xử lý' THEN 4
             WHEN 'Yêu cầu bổ sung' THEN 5 WHEN 'Nghĩa vụ tài chính' THEN 6
             WHEN 'Công dân rút' THEN 7 WHEN 'Dừng xử lý' THEN 8
             WHEN 'Đã xử lý xong' THEN 9 WHEN 'Đã trả kết quả' THEN 10 END AS status,
        "Ngày nộp" AS submitted_at,
        "Ngày tiếp nhận" AS received_at,
        CAST("Ngày hẹn trả" AS TIMESTAMP) AS due_at,
        "Ngày kết thúc xử lý" AS finished_at,
        "Ngày trả kết quả" AS returned_at,
        "Ngày từ chối" AS rejected_at,
        CASE "Có phí" WHEN 'Có' THEN true WHEN 'Không' THEN false END AS fee_required,
        CASE "Thanh toán trực tuyến" WHEN 'Có' THEN true WHEN 'Không' THEN false END AS paid_online,
        CASE "Số hóa" WHEN 'Có' THEN true WHEN 'Không' THEN false END AS digitized,
        CASE "Kết quả điện tử" WHEN 'Có' THEN true WHEN 'Không' THEN false END AS e_result,
        CASE "Đồng bộ DVCQG" WHEN 'Có' THEN true WHEN 'Không' THEN false END AS synced,
        CASE "Phiếu xin lỗi" WHEN 'Có' THEN true WHEN 'Không' THEN false END AS apology_issued,
        CASE "Mức độ hài lòng" WHEN 'Hài lòng' THEN 'satisfied' WHEN 'Bình thường' THEN 'neutral'
             WHEN 'Không hài lòng' THEN 'dissatisfied' END AS rating,
        CASE "Phản ánh" WHEN 'Có' THEN true WHEN 'Không' THEN false END AS complaint,
        filename AS source_file,
        STT AS source_row
    FROM raw
)
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (
        PARTITION BY dossier_id
        ORDER BY greatest(submitted_at, received_at, finished_at, returned_at, rejected_at) DESC NULLS LAST,
                 coalesce(status, -1) DESC,
                 regexp_replace(source_file, '^.*/', '') DESC,
                 source_file DESC, source_row DESC
    ) AS rn
    FROM typed
) WHERE rn = 1;

DROP TABLE raw;

-- 3. the unit valid on the day of receipt, by code
-- 4. kind, end, due end, outcome and the flags of every rate
CREATE TEMP TABLE facts AS
WITH resolved AS (
    SELECT d.*, u.valid_from AS unit_valid_from
    FROM dossiers d
    JOIN units u ON u.unit_code = d.unit_code
        AND u.valid_from <= CAST(d.received_at AS DATE)
        AND (u.valid_to IS NULL OR CAST(d.received_at AS DATE) <= u.valid_to)
), kinded AS (
    SELECT *,
        CASE WHEN status IN (9, 10) OR (status IS NULL AND (finished_at IS NOT NULL OR returned_at IS NOT NULL)) THEN 'finished'
             WHEN status IN (3, 7, 8) OR (status IS NULL AND rejected_at IS NOT NULL) THEN 'rejected'
             ELSE 'pending' END AS kind,
        CASE WHEN due_at = date_trunc('day', due_at)
             THEN due_at + INTERVAL 1 DAY - INTERVAL 1 MICROSECOND ELSE due_at END AS due_end
    FROM resolved
), ended AS (
    SELECT *,
        CASE kind WHEN 'finished' THEN coalesce(finished_at, returned_at)
                  WHEN 'rejected' THEN coalesce(rejected_at, finished_at, received_at) END AS end_at
    FROM kinded
), classed AS (
    SELECT *,
        CASE WHEN kind = 'rejected' THEN 'rejected'
             WHEN kind <> 'finished' THEN NULL
             WHEN due_at IS NULL THEN 'no_deadline'
             WHEN CAST(end_at AS DATE) < CAST(due_at AS DATE) THEN 'early'
             WHEN end_at <= due_end THEN 'on_time'
             ELSE 'overdue' END AS outcome
    FROM ended
)
SELECT
    e.unit_code, e.unit_valid_from, e.received_at, e.end_at, e.due_end, e.outcome,
    channel IS NOT NULL AS online_den,
    coalesce(channel = 2, false) AS online_num,
    coalesce(fee_required, false) AND paid_online IS NOT NULL AS paid_den,
    coalesce(fee_required AND paid_online, false) AS paid_num,
    digitized IS NOT NULL AS digitized_den,
    coalesce(digitized, false) AS digitized_num,
    synced IS NOT NULL AS synced_den,
    coalesce(synced, false) AS synced_num,
    kind = 'finished' AND e_result IS NOT NULL AS e_result_den,
    kind = 'finished' AND coalesce(e_result, false) AS e_result_num,
    kind = 'finished' AND (complaint IS NOT NULL OR rating IS NOT NULL) AS complaint_den,
    kind = 'finished' AND (coalesce(complaint, false) OR coalesce(rating = 'dissatisfied', false)) AS complaint_num,
    coalesce(outcome = 'overdue', false) AND apology_issued IS NOT NULL AS apology_den,
    coalesce(outcome = 'overdue', false) AND coalesce(apology_issued, false) AS apology_num,
    CASE WHEN kind = 'finished' THEN greatest(ce.wdb - cr.wdb, 0) END AS working_days
FROM classed e
LEFT JOIN cal cr ON cr.d = CAST(e.received_at AS DATE)
LEFT JOIN cal ce ON ce.d = CAST(e.end_at AS DATE);

DROP TABLE dossiers;

-- 5. periods: every week and month the data covers, and the one before the first
--    (for rank_change); a period that ends after `now` is provisional, cut at
--    the latest event
CREATE TEMP TABLE extent AS
SELECT min(received_at) AS first_received,
       greatest(max(received_at), max(end_at)) AS latest_event
FROM facts;

CREATE TEMP TABLE periods AS
WITH bounds AS (
    SELECT
        date_trunc('month', first_received)::DATE AS first_month,
        (date_trunc('month', latest_event) + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE AS last_day,
        latest_event
    FROM extent
), raw_periods AS (
    SELECT 'month' AS period_type, i AS period_idx,
           make_date(CAST(i // 12 AS INTEGER), CAST(i % 12 + 1 AS INTEGER), 1) AS period_start
    FROM bounds, range(
        year(first_month) * 12 + month(first_month) - 2,
        year(last_day) * 12 + month(last_day)) t(i)
    UNION ALL
    SELECT 'week', i, (DATE '1970-01-05' + CAST(7 * i AS INTEGER))
    FROM bounds, range(
        (first_month - DATE '1970-01-05') // 7 - 1,
        (last_day - DATE '1970-01-05') // 7 + 1) t(i)
), spans AS (
    SELECT *,
        CASE period_type WHEN 'month' THEN period_start + INTERVAL 1 MONTH
                         ELSE period_start + INTERVAL 7 DAY END AS period_end
    FROM raw_periods
)
SELECT s.period_type, s.period_idx, s.period_start,
       CAST(s.period_end - INTERVAL 1 DAY AS DATE) AS period_last_day,
       CASE s.period_type WHEN 'month' THEN strftime(s.period_start, '%Y-%m')
                          ELSE strftime(s.period_start, '%G-W%V') END AS period_key,
       s.period_end > TIMESTAMP '${now}' AS provisional,
       CASE WHEN s.period_end > TIMESTAMP '${now}'
            THEN least(s.period_end, b.latest_event + INTERVAL 1 MICROSECOND)
            ELSE s.period_end END AS cutoff
FROM spans s, bounds b
WHERE s.period_start <= CAST(TIMESTAMP '${now}' AS DATE)
  AND (s.period_end <= TIMESTAMP '${now}' OR s.period_start <= b.latest_event);

-- 6. per unit and period: counts by receipt, by end, and the pending-overdue
--    +1/-1 events (a dossier is pending overdue from the period holding its due
--    end, or its receipt, up to the one before its end)
CREATE TEMP TABLE own_counts AS
WITH idx AS (
    SELECT f.*, t.period_type,
        CASE t.period_type WHEN 'month' THEN year(received_at) * 12 + month(received_at) - 1
             ELSE (CAST(received_at AS DATE) - DATE '1970-01-05') // 7 END AS received_idx,
        CASE t.period_type WHEN 'month' THEN year(end_at) * 12 + month(end_at) - 1
             ELSE (CAST(end_at AS DATE) - DATE '1970-01-05') // 7 END AS end_idx,
        CASE t.period_type WHEN 'month' THEN year(due_end) * 12 + month(due_end) - 1
             ELSE (CAST(due_end AS DATE) - DATE '1970-01-05') // 7 END AS due_idx
    FROM facts f, (VALUES ('week'), ('month')) t(period_type)
), lim AS (
    SELECT period_type, min(period_idx) AS first_idx, max(period_idx) AS last_idx,
           max(period_idx) FILTER (WHERE provisional) AS cut_idx,
           max(cutoff) FILTER (WHERE provisional) AS cut
    FROM periods GROUP BY period_type
), by_receipt AS (
    SELECT i.period_type, unit_code, unit_valid_from, received_idx AS period_idx,
        count(*) AS received,
        count(*) FILTER (WHERE online_num) AS online_num, count(*) FILTER (WHERE online_den) AS online_den,
        count(*) FILTER (WHERE paid_num) AS paid_num, count(*) FILTER (WHERE paid_den) AS paid_den,
        count(*) FILTER (WHERE digitized_num) AS digitized_num, count(*) FILTER (WHERE digitized_den) AS digitized_den,
        count(*) FILTER (WHERE synced_num) AS synced_num, count(*) FILTER (WHERE synced_den) AS synced_den
    FROM idx i JOIN lim l USING (period_type)
    WHERE received_idx BETWEEN l.first_idx AND l.last_idx
    GROUP BY ALL
), by_end AS (
    SELECT i.period_type, unit_code, unit_valid_from, end_idx AS period_idx,
        count(*) FILTER (WHERE outcome = 'early') AS early,
        count(*) FILTER (WHERE outcome = 'on_time') AS on_time,
        count(*) FILTER (WHERE outcome = 'overdue') AS overdue,
        count(*) FILTER (WHERE outcome = 'no_deadline') AS no_deadline,
        count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
        count(*) FILTER (WHERE e_result_num) AS e_result_num, count(*) FILTER (WHERE e_result_den) AS e_result_den,
        count(*) FILTER (WHERE complaint_num) AS complaint_num, count(*) FILTER (WHERE complaint_den) AS complaint_den,
        count(*) FILTER (WHERE apology_num) AS apology_num, count(*) FILTER (WHERE apology_den) AS apology_den,
        sum(working_days) AS working_days_sum, count(working_days) AS working_days_n
    FROM idx i JOIN lim l USING (period_type)
    WHERE outcome IS NOT NULL AND end_idx BETWEEN l.first_idx AND l.last_idx
    GROUP BY ALL
), spans AS (
    SELECT i.period_type, unit_code, unit_valid_from, l.first_idx, l.last_idx,
        CASE WHEN greatest(due_idx, received_idx) = l.cut_idx AND due_end >= l.cut
             THEN greatest(due_idx, received_idx) + 1 ELSE greatest(due_idx, received_idx) END AS s,
        end_idx AS e
    FROM idx i JOIN lim l USING (period_type)
    WHERE due_end IS NOT NULL
), deltas AS (
    SELECT period_type, unit_code, unit_valid_from, period_idx, sum(delta) AS delta FROM (
        SELECT period_type, unit_code, unit_valid_from, greatest(s, first_idx) AS period_idx, 1 AS delta, last_idx
        FROM spans WHERE e IS NULL OR s < e
        UNION ALL
        SELECT period_type, unit_code, unit_valid_from, greatest(e, first_idx), -1, last_idx
        FROM spans WHERE e IS NOT NULL AND s < e
    ) WHERE period_idx <= last_idx
    GROUP BY ALL
)
SELECT * FROM by_receipt
FULL JOIN by_end USING (period_type, unit_code, unit_valid_from, period_idx)
FULL JOIN deltas USING (period_type, unit_code, unit_valid_from, period_idx);

CREATE TEMP TABLE parents AS
WITH children AS (
    SELECT unit_code, valid_from AS unit_valid_from, parent_code FROM units WHERE parent_code IS NOT NULL
)
SELECT c.unit_code, c.unit_valid_from, p.unit_code AS parent_code, p.valid_from AS parent_valid_from
FROM children c JOIN units p ON p.unit_code = c.parent_code
QUALIFY row_number() OVER (
    PARTITION BY c.unit_code, c.unit_valid_from
    ORDER BY (p.valid_from <= c.unit_valid_from AND (p.valid_to IS NULL OR p.valid_to >= c.unit_valid_from)) DESC,
             p.valid_from DESC) = 1;

-- 7. a district counts its communes' dossiers too: roll the additive counts up
CREATE TEMP TABLE counts AS
SELECT period_type, unit_code, unit_valid_from, period_idx,
    sum(received) AS received, sum(online_num) AS online_num, sum(online_den) AS online_den,
    sum(paid_num) AS paid_num, sum(paid_den) AS paid_den,
    sum(digitized_num) AS digitized_num, sum(digitized_den) AS digitized_den,
    sum(synced_num) AS synced_num, sum(synced_den) AS synced_den,
    sum(early) AS early, sum(on_time) AS on_time, sum(overdue) AS overdue,
    sum(no_deadline) AS no_deadline, sum(rejected) AS rejected,
    sum(e_result_num) AS e_result_num, sum(e_result_den) AS e_result_den,
    sum(complaint_num) AS complaint_num, sum(complaint_den) AS complaint_den,
    sum(apology_num) AS apology_num, sum(apology_den) AS apology_den,
    sum(working_days_sum) AS working_days_sum, sum(working_days_n) AS working_days_n,
    sum(delta) AS delta
FROM (
    SELECT * FROM own_counts
    UNION ALL BY NAME
    SELECT o.* REPLACE (p.parent_code AS unit_code, p.parent_valid_from AS unit_valid_from)
    FROM own_counts o JOIN parents p USING (unit_code, unit_valid_from)
)
GROUP BY ALL;

-- 8. every unit × period, pending overdue as the running sum of its events; listed
--    when valid in the period or holding any count; rates, points and score
CREATE TEMP TABLE scored AS
WITH grid AS (
    SELECT p.*, u.unit_code, u.valid_from AS unit_valid_from, u.valid_to AS unit_valid_to,
           u.unit_name, u.level, u.peer_group
    FROM periods p CROSS JOIN units u
), joined AS (
    SELECT g.*,
        coalesce(c.received, 0) AS received,
        coalesce(c.early, 0) AS early, coalesce(c.on_time, 0) AS on_time,
        coalesce(c.overdue, 0) AS overdue, coalesce(c.no_deadline, 0) AS no_deadline,
        coalesce(c.rejected, 0) AS rejected,
        sum(coalesce(c.delta, 0)) OVER (
            PARTITION BY g.period_type, g.unit_code, g.unit_valid_from ORDER BY g.period_idx
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS pending_overdue,
        c.online_num, c.online_den, c.paid_num, c.paid_den, c.digitized_num, c.digitized_den,
        c.synced_num, c.synced_den, c.e_result_num, c.e_result_den,
        c.complaint_num, c.complaint_den, c.apology_num, c.apology_den, c.working_days_sum, c.working_days_n,
        g.unit_valid_from <= g.period_last_day
            AND (g.unit_valid_to IS NULL OR g.unit_valid_to >= g.period_start) AS valid_in_period
    FROM grid g
    LEFT JOIN counts c USING (period_type, unit_code, unit_valid_from, period_idx)
), rated AS (
    SELECT *,
        early + on_time + overdue + no_deadline AS finished,
        early + on_time + overdue + pending_overdue AS timeliness_base,
        CASE WHEN early + on_time + overdue + pending_overdue > 0
             THEN (early + on_time) / (early + on_time + overdue + pending_overdue) END AS on_time_rate,
        CASE WHEN online_den > 0 THEN online_num / online_den END AS online_rate,
        CASE WHEN paid_den > 0 THEN paid_num / paid_den END AS paid_online_rate,
        CASE WHEN digitized_den > 0 THEN digitized_num / digitized_den END AS digitized_rate,
        CASE WHEN e_result_den > 0 THEN e_result_num / e_result_den END AS e_result_rate,
        CASE WHEN synced_den > 0 THEN synced_num / synced_den END AS synced_rate,
        CASE WHEN complaint_den > 0 THEN complaint_num / complaint_den END AS complaint_rate,
        CASE WHEN apology_den > 0 THEN apology_num / apology_den END AS apology_rate,
        CASE WHEN working_days_n > 0 THEN working_days_sum / working_days_n END AS avg_working_days
    FROM joined
    WHERE valid_in_period OR received + early + on_time + overdue + no_deadline + rejected + pending_overdue > 0
), satisfied AS (
    SELECT *,
        CASE WHEN complaint_rate IS NULL THEN NULL
             WHEN on_time_rate IS NULL THEN greatest(0.0, 1 - complaint_rate)
             ELSE greatest(0.0, 1 - (1 - on_time_rate) - complaint_rate) END AS satisfaction_rate
    FROM rated
), pointed AS (
    -- the points of the profile's groups (bench/floor.py writes them from the profile)
    SELECT *,
${points}
    FROM satisfied
)
SELECT *,
    CASE WHEN applicable_max > 0 THEN 100 * (${earned}) / applicable_max END AS score
FROM pointed;

-- 8b. rank and band on the score rounded to 2 decimals, after rounding to 9
CREATE TEMP TABLE board AS
WITH flagged AS (
    SELECT *, round(round(score, 9), 2) AS rounded_score,
        valid_in_period AND score IS NOT NULL AND received + timeliness_base >= ${min_volume} AS ranked
    FROM scored
)
SELECT *,
    CASE WHEN ranked THEN rank() OVER (PARTITION BY period_type, period_idx, level, ranked ORDER BY rounded_score DESC) END AS rank,
    CASE WHEN ranked THEN rank() OVER (PARTITION BY period_type, period_idx, level, peer_group, ranked ORDER BY rounded_score DESC) END AS rank_in_peer,
    ${band} AS band
FROM flagged;

-- 9. rank_change against the period just before; the first period (only there for
--    it) is dropped; the published columns, in order
COPY (
    SELECT b.period_type, b.period_key, b.period_start, b.level, b.unit_code, b.unit_name, b.peer_group,
        CAST(b.received AS BIGINT) AS received, CAST(b.finished AS BIGINT) AS finished,
        CAST(b.early AS BIGINT) AS early, CAST(b.on_time AS BIGINT) AS on_time,
        CAST(b.overdue AS BIGINT) AS overdue, CAST(b.no_deadline AS BIGINT) AS no_deadline,
        CAST(b.pending_overdue AS BIGINT) AS pending_overdue, CAST(b.rejected AS BIGINT) AS rejected,
        CAST(b.timeliness_base AS BIGINT) AS timeliness_base, b.on_time_rate, b.online_rate, b.paid_online_rate,
        b.digitized_rate, b.e_result_rate, b.synced_rate, b.complaint_rate, b.satisfaction_rate,
        b.apology_rate, b.avg_working_days,
        ${points_columns}, b.score, b.band, b.ranked, b.rank,
        b.rank_in_peer, CAST(prev.rank - b.rank AS BIGINT) AS rank_change, b.unit_valid_from, b.provisional,
        ${max_points_columns}
    FROM board b
    LEFT JOIN board prev ON prev.period_type = b.period_type AND prev.period_idx = b.period_idx - 1
        AND prev.unit_code = b.unit_code AND prev.unit_valid_from = b.unit_valid_from
    WHERE b.period_idx > (SELECT min(period_idx) FROM periods p WHERE p.period_type = b.period_type)
    ORDER BY b.period_type, b.period_idx,
        CASE b.level WHEN 'district' THEN 0 WHEN 'commune' THEN 1 WHEN 'department' THEN 2 ELSE 9 END,
        b.unit_code, b.unit_valid_from
) TO '${out}' (FORMAT parquet);
