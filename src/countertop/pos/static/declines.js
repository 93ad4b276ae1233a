// What to tell the operator when a card payment does not go through. The API sends its own
// `operator_message`; this table is the fallback, keyed by Stripe's decline and error codes.

const REASONS = {
  insufficient_funds: "Insufficient funds on this card. Ask the customer for another card or another way to pay.",
  lost_card: "The bank declined this card (reported lost). Tell the customer it was declined and ask for another way to pay; don't retry this card.",
  stolen_card: "The bank declined this card (reported stolen). Tell the customer it was declined and ask for another way to pay; don't retry this card.",
  incorrect_pin: "Incorrect PIN. Press Retry and ask the customer to enter their PIN again.",
  pin_try_exceeded: "Too many wrong PIN attempts. Ask the customer for another card.",
  expired_card: "This card has expired. Ask the customer for another card.",
  card_declined: "The card was declined. Ask the customer for another card or another way to pay.",
  generic_decline: "The bank declined the card without a reason. Ask the customer for another card or another way to pay.",
  do_not_honor: "The bank declined the card without a reason. Ask the customer for another card or another way to pay.",
  call_issuer: "The bank declined the card. The customer can call their bank; meanwhile ask for another card.",
  processing_error: "The card could not be processed. Press Retry; if it fails again, ask for another card.",
  card_not_supported: "This card does not support this kind of purchase. Ask for another card.",
  currency_not_supported: "This card cannot pay in this currency. Ask for another card.",
  withdrawal_count_limit_exceeded: "The customer has reached their card's limit. Ask for another card.",
  offline_pin_required: "This card needs a PIN. Press Retry and ask the customer to insert the card and enter the PIN.",
  online_or_offline_pin_required: "This card needs a PIN. Press Retry and ask the customer to insert the card and enter the PIN.",
  fraudulent: "The bank declined the card. Ask the customer for another way to pay.",
  customer_canceled: "The customer canceled on the reader. Press Retry to ask for the card again.",
  terminal_reader_timeout: "The reader did not answer in time. Check it is on and connected, then press Retry.",
  terminal_reader_offline: "The reader is offline. Check it is powered on and connected, then press Retry.",
  terminal_reader_busy: "The reader is busy with another payment.",
  connection_error: "The reader lost its connection. Check the payment status before trying again.",
};

export function declineMessage(error) {
  if (!error) return "The payment did not go through. Press Retry or cancel the sale.";
  if (error.operator_message) return error.operator_message;
  return (
    REASONS[error.decline_code] ||
    REASONS[error.code] ||
    error.message ||
    "The payment did not go through. Press Retry or cancel the sale."
  );
}
