package natsjs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Consumer describes the durable push consumer one projection runner reads
// through a watermill-nats subscriber. Its names must be the ones the
// subscriber derives from its configuration, or the subscription will not
// bind to it.
type Consumer struct {
	// Stream is the JetStream stream. watermill-nats names it after the
	// topic (with the default SubjectCalculator).
	Stream string
	// Subject is the topic the subscriber subscribes to; the consumer
	// delivers only messages on it.
	Subject string
	// Durable is the consumer's name: the subscriber's
	// JetStreamConfig.DurablePrefix, or what its DurableCalculator returns.
	// Give each projection its own.
	Durable string
	// QueueGroup is the subscriber's queue group: its QueueGroupPrefix
	// (with the default SubjectCalculator). watermill-nats always
	// subscribes as a queue, so it must not be empty; replicas of one
	// projection share it.
	QueueGroup string

	// DeliverSubject is where JetStream pushes the messages; default
	// "eventfold.deliver.<Stream>.<Durable>". It must not overlap the
	// stream's subjects.
	DeliverSubject string
	// AckWait is how long JetStream waits for an acknowledgement before it
	// delivers a message again; default 30s. Messages the subscriber held
	// when its feed closed come back after it; until then the Source
	// refuses what follows them as a gap and the runner reopens.
	AckWait time.Duration
	// MaxAckPending caps the messages delivered and not yet acknowledged;
	// zero means the server's default. Keep it above the runner's batch
	// size.
	MaxAckPending int
}

func (c Consumer) withDefaults() Consumer {
	if c.DeliverSubject == "" {
		c.DeliverSubject = "eventfold.deliver." + c.Stream + "." + c.Durable
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	return c
}

func (c Consumer) validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"Stream", c.Stream}, {"Subject", c.Subject}, {"Durable", c.Durable}, {"QueueGroup", c.QueueGroup},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("natsjs: Consumer.%s is required", f.name))
		}
	}
	if c.AckWait < 0 || c.MaxAckPending < 0 {
		errs = append(errs, errors.New("natsjs: Consumer.AckWait and MaxAckPending must not be negative"))
	}
	return errors.Join(errs...)
}

// config is the consumer's JetStream configuration, as nats.go would
// create it for a queue subscription, but durable beyond it.
func (c Consumer) config() *nats.ConsumerConfig {
	return &nats.ConsumerConfig{
		Durable:        c.Durable,
		Description:    "eventfold projection consumer, created by natsjs.EnsureConsumer",
		DeliverSubject: c.DeliverSubject,
		DeliverGroup:   c.QueueGroup,
		FilterSubject:  c.Subject,
		DeliverPolicy:  nats.DeliverAllPolicy,
		AckPolicy:      nats.AckExplicitPolicy,
		AckWait:        c.AckWait,
		MaxAckPending:  c.MaxAckPending,
		ReplayPolicy:   nats.ReplayInstantPolicy,
	}
}

// EnsureConsumer creates c's stream (named c.Stream, holding c.Subject, as
// watermill-nats's AutoProvision would) and the durable consumer if they do
// not exist, and returns the consumer's info. A consumer that exists is left
// as it is, after checking that a subscription with c's names can bind to
// it and that it wants every message acknowledged; it is an error if not.
//
// Run it before the subscriber subscribes, in every process that does (it
// is idempotent, and replicas racing to create the consumer create the same
// one).
func EnsureConsumer(ctx context.Context, js nats.JetStreamManager, c Consumer) (*nats.ConsumerInfo, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	opt := nats.Context(ctx)
	if _, err := js.StreamInfo(c.Stream, opt); errors.Is(err, nats.ErrStreamNotFound) {
		_, err = js.AddStream(&nats.StreamConfig{Name: c.Stream, Subjects: []string{c.Subject}}, opt)
		if err != nil && !errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
			return nil, fmt.Errorf("natsjs: create stream %q: %w", c.Stream, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("natsjs: stream %q: %w", c.Stream, err)
	}

	info, err := js.ConsumerInfo(c.Stream, c.Durable, opt)
	if errors.Is(err, nats.ErrConsumerNotFound) {
		// Replicas racing here send the same configuration, which the
		// server accepts as it is.
		info, err = js.AddConsumer(c.Stream, c.config(), opt)
		if err != nil {
			return nil, fmt.Errorf("natsjs: create consumer %q on stream %q: %w", c.Durable, c.Stream, err)
		}
		return info, nil
	}
	if err != nil {
		return nil, fmt.Errorf("natsjs: consumer %q on stream %q: %w", c.Durable, c.Stream, err)
	}
	if err := c.check(&info.Config); err != nil {
		return nil, err
	}
	return info, nil
}

// check reports why a subscription with c's names could not bind to, or
// should not use, an existing consumer.
func (c Consumer) check(got *nats.ConsumerConfig) error {
	var errs []error
	mismatch := func(what, want, have string) {
		errs = append(errs, fmt.Errorf("%s is %q, want %q", what, have, want))
	}
	if got.DeliverSubject == "" {
		errs = append(errs, errors.New("it is a pull consumer; watermill-nats subscribes to push consumers"))
	}
	if got.DeliverGroup != c.QueueGroup {
		mismatch("its deliver group", c.QueueGroup, got.DeliverGroup)
	}
	if got.FilterSubject != "" && got.FilterSubject != c.Subject {
		mismatch("its filter subject", c.Subject, got.FilterSubject)
	}
	if got.AckPolicy != nats.AckExplicitPolicy {
		mismatch("its ack policy", nats.AckExplicitPolicy.String(), got.AckPolicy.String())
	}
	if len(errs) > 0 {
		return fmt.Errorf("natsjs: consumer %q on stream %q exists but does not fit: %w", c.Durable, c.Stream, errors.Join(errs...))
	}
	return nil
}

// SubscribeOptions returns the options for watermill-nats's
// JetStreamConfig.SubscribeOptions: bind to the consumer EnsureConsumer
// made (a subscription fails rather than create one that would be deleted
// when it ends), and acknowledge a message only when watermill acks it.
//
// Without ManualAck nats.go acknowledges each message when watermill-nats's
// handler returns, which it also does, without an ack, when the feed closes
// or its AckWaitTimeout passes; with a consumer that outlives the
// subscription, such a message would count as done and never come again,
// and the Source would refuse the next one as a gap at every reopen.
func (c Consumer) SubscribeOptions() []nats.SubOpt {
	return []nats.SubOpt{nats.Bind(c.Stream, c.Durable), nats.ManualAck()}
}
