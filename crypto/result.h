// Errors as values, shared by every module. Each module has its own `enum class` of codes and
// uses Result<T, ItsError> / Status<ItsError>; a message is one line a person can act on.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace xs {

template <typename E>
struct Error {
    E code;
    std::string message;
};

template <typename E>
[[nodiscard]] inline Error<E> fail(E code, std::string message) {
    return Error<E>{code, std::move(message)};
}

// A value or an error. Test with `if (!r) return r.error();`.
template <typename T, typename E>
class [[nodiscard]] Result {
public:
    Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}  // NOLINT(implicit)
    Result(Error<E> error) : m_v(std::in_place_index<1>, std::move(error)) {}  // NOLINT(implicit)

    bool ok() const { return m_v.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(m_v); }
    const T& value() const& { return std::get<0>(m_v); }
    T&& value() && { return std::get<0>(std::move(m_v)); }
    T* operator->() { return &std::get<0>(m_v); }
    const T* operator->() const { return &std::get<0>(m_v); }
    T& operator*() & { return std::get<0>(m_v); }
    const T& operator*() const& { return std::get<0>(m_v); }

    const Error<E>& error() const { return std::get<1>(m_v); }
    E code() const { return std::get<1>(m_v).code; }
    const std::string& message() const { return std::get<1>(m_v).message; }

private:
    std::variant<T, Error<E>> m_v;
};

// Success or an error, for operations without a value.
template <typename E>
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Error<E> error) : m_error(std::move(error)) {}  // NOLINT(implicit)
    static Status success() { return Status(); }

    bool ok() const { return !m_error.has_value(); }
    explicit operator bool() const { return ok(); }
    const Error<E>& error() const { return *m_error; }
    E code() const { return m_error->code; }
    const std::string& message() const { return m_error->message; }

private:
    std::optional<Error<E>> m_error;
};

}  // namespace xs

// Propagate an error from a Result/Status of the same module: `XS_TRY(stmt.run());`
#define XS_TRY(expr)                                        \
    do {                                                    \
        auto xs_try_status_ = (expr);                       \
        if (!xs_try_status_) return xs_try_status_.error(); \
    } while (0)
