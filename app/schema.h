// The domain tables: projections of the op log, one row per record, one column per field.
// The mapping from record kinds to tables lives here and nowhere else; table and column names
// are constants of this file (SQL is never built from input).
#pragma once
#include <string>
#include <vector>
#include "sync/oplog.h"

namespace xs::app {

enum class ColumnType { Text, Int, Bool, Json };

struct Column {
    const char* field;  // field name in ops == column name
    ColumnType type;
};

struct RecordType {
    const char* kind;   // record kind in ops
    const char* table;
    std::vector<Column> columns;  // besides `id`
};

const std::vector<RecordType>& recordTypes();
const RecordType* findRecordType(const std::string& kind);
const std::vector<sync::Migration>& appMigrations();

// Writes record winners into the typed tables.
class DomainProjection final : public sync::ProjectionSink {
public:
    sync::SStatus reset(sync::Db& db) override;
    sync::SStatus project(sync::Db& db, const std::string& kind, const std::string& recordId,
                          const sync::Json& fields) override;
    std::vector<std::string> tables() const override;
};

}  // namespace xs::app
