// ballast/core/ring_deque.h
//
// A double-ended queue in one growable circular buffer: the engine's
// windows and the per-target histories, which are pushed at the back and
// trimmed at the front every tick.
//
//   RingDeque<TimedReplicas> window;
//   window.push_back({now, 3});
//   while (!window.empty() && window.front().time < cutoff) window.pop_front();
//   for (const TimedReplicas& p : window) { ... }
//
// Unlike libstdc++'s std::deque, which allocates a 512-byte block and its
// map even when empty (and again for a moved-from deque), an empty RingDeque
// owns no memory, moving one never allocates, and a window that keeps its
// size reuses its buffer: at 10,000 targets with nine windows each the
// difference is tens of megabytes and most of a tick's allocations.
// Capacity is a power of two and grows by doubling; it never shrinks except
// through clear() or shrink_to_fit(). Iterators are random access and are
// invalidated by any push, pop or clear.
#ifndef BALLAST_CORE_RING_DEQUE_H_
#define BALLAST_CORE_RING_DEQUE_H_

#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>

namespace ballast::core {

template <typename T>
class RingDeque {
  template <bool kConst>
  class Iter {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using iterator_concept = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<kConst, const T*, T*>;
    using reference = std::conditional_t<kConst, const T&, T&>;
    using Owner = std::conditional_t<kConst, const RingDeque, RingDeque>;

    Iter() = default;
    Iter(Owner* owner, std::size_t index) : owner_(owner), index_(index) {}
    // iterator -> const_iterator.
    template <bool kOther, typename = std::enable_if_t<kConst && !kOther>>
    Iter(const Iter<kOther>& other)  // NOLINT(google-explicit-constructor)
        : owner_(other.owner_), index_(other.index_) {}

    reference operator*() const { return (*owner_)[index_]; }
    pointer operator->() const { return &(*owner_)[index_]; }
    reference operator[](difference_type n) const {
      return (*owner_)[index_ + n];
    }
    Iter& operator++() {
      ++index_;
      return *this;
    }
    Iter operator++(int) {
      Iter before = *this;
      ++index_;
      return before;
    }
    Iter& operator--() {
      --index_;
      return *this;
    }
    Iter operator--(int) {
      Iter before = *this;
      --index_;
      return before;
    }
    Iter& operator+=(difference_type n) {
      index_ += n;
      return *this;
    }
    Iter& operator-=(difference_type n) {
      index_ -= n;
      return *this;
    }
    friend Iter operator+(Iter it, difference_type n) { return it += n; }
    friend Iter operator+(difference_type n, Iter it) { return it += n; }
    friend Iter operator-(Iter it, difference_type n) { return it -= n; }
    friend difference_type operator-(const Iter& a, const Iter& b) {
      return static_cast<difference_type>(a.index_) -
             static_cast<difference_type>(b.index_);
    }
    friend bool operator==(const Iter& a, const Iter& b) {
      return a.index_ == b.index_;
    }
    friend auto operator<=>(const Iter& a, const Iter& b) {
      return a.index_ <=> b.index_;
    }

   private:
    template <bool>
    friend class Iter;
    Owner* owner_ = nullptr;
    std::size_t index_ = 0;
  };

 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = T&;
  using const_reference = const T&;
  using iterator = Iter<false>;
  using const_iterator = Iter<true>;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;

  RingDeque() = default;
  RingDeque(std::initializer_list<T> items) {
    reserve(items.size());
    for (const T& item : items) push_back(item);
  }
  RingDeque(const RingDeque& other) {
    reserve(other.size_);
    for (const T& item : other) push_back(item);
  }
  RingDeque(RingDeque&& other) noexcept
      : slots_(std::exchange(other.slots_, nullptr)),
        capacity_(std::exchange(other.capacity_, 0)),
        head_(std::exchange(other.head_, 0)),
        size_(std::exchange(other.size_, 0)) {}
  RingDeque& operator=(const RingDeque& other) {
    if (this != &other) {
      RingDeque copy(other);
      swap(copy);
    }
    return *this;
  }
  RingDeque& operator=(RingDeque&& other) noexcept {
    if (this != &other) {
      RingDeque moved(std::move(other));
      swap(moved);
    }
    return *this;
  }
  ~RingDeque() {
    clear();
    Deallocate(slots_, capacity_);
  }

  void swap(RingDeque& other) noexcept {
    std::swap(slots_, other.slots_);
    std::swap(capacity_, other.capacity_);
    std::swap(head_, other.head_);
    std::swap(size_, other.size_);
  }

  bool empty() const { return size_ == 0; }
  size_type size() const { return size_; }
  size_type capacity() const { return capacity_; }

  T& operator[](size_type i) { return slots_[Slot(i)]; }
  const T& operator[](size_type i) const { return slots_[Slot(i)]; }
  T& front() { return (*this)[0]; }
  const T& front() const { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }

  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const { return end(); }
  reverse_iterator rbegin() { return reverse_iterator(end()); }
  reverse_iterator rend() { return reverse_iterator(begin()); }
  const_reverse_iterator rbegin() const {
    return const_reverse_iterator(end());
  }
  const_reverse_iterator rend() const {
    return const_reverse_iterator(begin());
  }

  void push_back(const T& value) { emplace_back(value); }
  void push_back(T&& value) { emplace_back(std::move(value)); }
  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity_) Grow(capacity_ == 0 ? 4 : capacity_ * 2);
    T* slot = slots_ + Slot(size_);
    std::construct_at(slot, std::forward<Args>(args)...);
    ++size_;
    return *slot;
  }
  void pop_front() {
    std::destroy_at(slots_ + head_);
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
  }
  void pop_back() {
    std::destroy_at(slots_ + Slot(size_ - 1));
    --size_;
  }
  void clear() {
    while (size_ > 0) pop_back();
    head_ = 0;
  }
  // Room for `n` items without another allocation.
  void reserve(size_type n) {
    if (n <= capacity_) return;
    size_type capacity = 4;
    while (capacity < n) capacity *= 2;
    Grow(capacity);
  }
  void shrink_to_fit() {
    if (size_ == 0) {
      Deallocate(slots_, capacity_);
      slots_ = nullptr;
      capacity_ = 0;
      head_ = 0;
      return;
    }
    size_type capacity = 4;
    while (capacity < size_) capacity *= 2;
    if (capacity < capacity_) Grow(capacity);
  }

  friend bool operator==(const RingDeque& a, const RingDeque& b) {
    if (a.size_ != b.size_) return false;
    for (size_type i = 0; i < a.size_; ++i) {
      if (!(a[i] == b[i])) return false;
    }
    return true;
  }

 private:
  size_type Slot(size_type i) const { return (head_ + i) & (capacity_ - 1); }

  static T* Allocate(size_type n) { return std::allocator<T>().allocate(n); }
  static void Deallocate(T* slots, size_type n) {
    if (slots != nullptr) std::allocator<T>().deallocate(slots, n);
  }

  // Moves the items, in order, to a new buffer of `capacity` (a power of
  // two, at least size_) starting at slot 0.
  void Grow(size_type capacity) {
    T* slots = Allocate(capacity);
    for (size_type i = 0; i < size_; ++i) {
      T* from = slots_ + Slot(i);
      std::construct_at(slots + i, std::move(*from));
      std::destroy_at(from);
    }
    Deallocate(slots_, capacity_);
    slots_ = slots;
    capacity_ = capacity;
    head_ = 0;
  }

  T* slots_ = nullptr;
  size_type capacity_ = 0;  // 0 or a power of two
  size_type head_ = 0;      // slot of front()
  size_type size_ = 0;
};

}  // namespace ballast::core

#endif  // BALLAST_CORE_RING_DEQUE_H_
